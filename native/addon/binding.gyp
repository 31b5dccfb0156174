{
  # Two add-ons: palisade_bpf (libbpf loader) and palisade_fanotify (permission-event handler).
  # palisade_fanotify is only built once its source exists, so each can be built on its own.
  "target_defaults": {
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions"],
    "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"]
  },
  "targets": [
    {
      "target_name": "palisade_bpf",
      "sources": ["src/addon.cc", "src/bpf_enforcer.cc", "src/bpf_maps.cc"],
      "include_dirs": ["../bpf", "../build/bpf"],
      "libraries": ["-lbpf", "-lelf", "-lz"],
      # Only libbpf, libelf, libz and glibc at run time (e.g. inside a minimal VM guest).
      "ldflags": ["-static-libstdc++", "-static-libgcc"]
    }
  ],
  "conditions": [
    ["<!(node -p \"require('fs').existsSync('src/fanotify.cc') ? 1 : 0\")==1", {
      "targets": [
        {
          "target_name": "palisade_fanotify",
          "sources": ["src/fanotify.cc"]
        }
      ]
    }]
  ]
}
