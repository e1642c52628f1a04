/* A tiny dt-bindings style header for the sample board. */
#ifndef _SAMPLE_GPIO_H
#define _SAMPLE_GPIO_H
#define GPIO_ACTIVE_HIGH 0
#define GPIO_ACTIVE_LOW 1
#define IRQ(n) ((n) + 32)
#define LED_NODE(name, pin) led_##name: led-##name { gpios = <&gpio pin GPIO_ACTIVE_LOW>; label = #name; }
#endif
