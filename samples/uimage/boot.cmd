setenv bootargs console=ttyS0,115200 root=/dev/ram0
bootm ${kernel_addr_r} ${ramdisk_addr_r} ${fdt_addr_r}
