// Policy generations as map entries: parsing/validation of the JS input and the slot-flip write.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#define PAL_USERSPACE
#include "palisade.h"

namespace palisade {

// File descriptors of the pinned maps (owned by BpfEnforcer).
struct MapFds {
  int config = -1;
  int containers = -1;
  int exec_allow = -1;
  int file_prot = -1;
  int net_allow = -1;
  int events = -1;
  int counters = -1;
};

struct ContainerEntry {
  uint64_t cgroup_id;
  uint8_t mode[3];
  uint32_t root_dev;
};

struct FileEntry {
  uint64_t cgroup_id;
  uint32_t dev;
  uint64_t ino;
};

struct ProtectEntry {
  FileEntry id;
  bool dir;
  std::string prefix;
};

struct NetEntry {
  uint64_t cgroup_id;
  uint8_t family;
  uint8_t proto;
  uint16_t port;
  uint8_t prefix_len;
  uint8_t addr[16];
};

// A fully validated generation, ready to be written.
struct Generation {
  uint64_t generation = 0;
  std::vector<ContainerEntry> containers;
  std::vector<FileEntry> exec_allow;
  std::vector<ProtectEntry> file_protect;
  std::vector<NetEntry> net_allow;
};

pal_config read_config(const MapFds& fds);
void write_config(const MapFds& fds, const pal_config& cfg);

// Writes `gen` into the inactive slot and flips the active slot. Throws std::runtime_error and
// leaves the active generation untouched on any failure.
void apply_generation(const MapFds& fds, const Generation& gen);

// Sum over CPUs of one counter of the per-CPU counter map.
uint64_t read_counter(const MapFds& fds, uint32_t index);

}  // namespace palisade
