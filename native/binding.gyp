{
  "targets": [
    {
      "target_name": "imgkit_native",
      "sources": ["imgkit.c", "lzenc.c", "zdeflate.c", "sqlist.c", "scan.c"],
      "cflags": ["-O2", "-std=gnu11", "-Wall"],
      "libraries": ["-ldl"]
    }
  ]
}
