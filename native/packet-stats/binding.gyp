{
  "targets": [
    {
      "target_name": "packet_stats",
      "sources": ["packet_stats.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"]
    }
  ]
}
