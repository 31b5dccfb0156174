#include "bpf_maps.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <stdexcept>

namespace palisade {

namespace {

std::string errno_text(int err) {
  return std::string(strerrordesc_np(err) ? strerrordesc_np(err) : "unknown error") + " (" +
         (strerrorname_np(err) ? strerrorname_np(err) : "?") + ")";
}

// Deletes every key of `fd` whose u32 slot field (at `slot_offset`) equals `slot`.
void clear_slot(int fd, size_t key_size, size_t slot_offset, uint32_t slot, const char* what) {
  std::vector<uint8_t> keys;
  std::vector<uint8_t> cur(key_size), next(key_size);
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
    uint32_t s;
    memcpy(&s, next.data() + slot_offset, sizeof(s));
    if (s == slot) keys.insert(keys.end(), next.begin(), next.end());
    cur = next;
    prev = cur.data();
  }
  for (size_t off = 0; off < keys.size(); off += key_size) {
    if (bpf_map_delete_elem(fd, keys.data() + off) && errno != ENOENT)
      throw std::runtime_error(std::string("clearing ") + what + ": " + errno_text(errno));
  }
}

void clear_all(const MapFds& fds, uint32_t slot) {
  clear_slot(fds.containers, sizeof(pal_container_key), offsetof(pal_container_key, slot), slot,
             "containers");
  clear_slot(fds.exec_allow, sizeof(pal_file_key), offsetof(pal_file_key, slot), slot, "exec allow");
  clear_slot(fds.file_prot, sizeof(pal_file_key), offsetof(pal_file_key, slot), slot,
             "file protect");
  clear_slot(fds.net_allow, sizeof(pal_net_key), offsetof(pal_net_key, slot), slot, "net allow");
}

void put(int fd, const void* key, const void* value, const char* what) {
  if (bpf_map_update_elem(fd, key, value, BPF_ANY))
    throw std::runtime_error(std::string("writing ") + what + ": " + errno_text(errno));
}

void write_slot(const MapFds& fds, const Generation& gen, uint32_t slot) {
  for (const auto& c : gen.containers) {
    pal_container_key key{};
    key.cgroup_id = c.cgroup_id;
    key.slot = slot;
    pal_container value{};
    memcpy(value.mode, c.mode, sizeof(value.mode));
    value.root_dev = c.root_dev;
    put(fds.containers, &key, &value, "containers");
  }
  const uint8_t present = 1;
  for (const auto& f : gen.exec_allow) {
    pal_file_key key{};
    key.cgroup_id = f.cgroup_id;
    key.dev = f.dev;
    key.ino = f.ino;
    key.slot = slot;
    put(fds.exec_allow, &key, &present, "exec allow");
  }
  for (const auto& p : gen.file_protect) {
    pal_file_key key{};
    key.cgroup_id = p.id.cgroup_id;
    key.dev = p.id.dev;
    key.ino = p.id.ino;
    key.slot = slot;
    pal_file_protect value{};
    value.dir = p.dir ? 1 : 0;
    value.prefix_len = static_cast<uint8_t>(p.prefix.size());
    memcpy(value.prefix, p.prefix.data(), p.prefix.size());
    put(fds.file_prot, &key, &value, "file protect");
  }
  for (const auto& n : gen.net_allow) {
    pal_net_key key{};
    key.prefixlen = PAL_NET_FIXED_BITS + n.prefix_len;
    key.cgroup_id = n.cgroup_id;
    key.slot = slot;
    key.family = n.family;
    key.proto = n.proto;
    key.port = n.port;
    memcpy(key.addr, n.addr, sizeof(key.addr));
    put(fds.net_allow, &key, &present, "net allow");
  }
}

}  // namespace

pal_config read_config(const MapFds& fds) {
  uint32_t zero = 0;
  pal_config cfg{};
  if (bpf_map_lookup_elem(fds.config, &zero, &cfg))
    throw std::runtime_error("reading config map: " + errno_text(errno));
  return cfg;
}

void write_config(const MapFds& fds, const pal_config& cfg) {
  uint32_t zero = 0;
  if (bpf_map_update_elem(fds.config, &zero, &cfg, BPF_ANY))
    throw std::runtime_error("writing config map: " + errno_text(errno));
}

void apply_generation(const MapFds& fds, const Generation& gen) {
  pal_config cfg = read_config(fds);
  if (gen.generation <= cfg.generation)
    throw std::runtime_error("generation " + std::to_string(gen.generation) +
                             " is not greater than the active generation " +
                             std::to_string(cfg.generation));
  const uint32_t target = cfg.active_slot ^ 1u;
  // The inactive slot still holds the generation before the active one: nobody reads it.
  clear_all(fds, target);
  try {
    write_slot(fds, gen, target);
  } catch (...) {
    try {
      clear_all(fds, target);
    } catch (...) {
    }
    throw;
  }
  // The flip: programs read active_slot once per hook, so each sees the old or the new generation.
  cfg.active_slot = target;
  cfg.generation = gen.generation;
  write_config(fds, cfg);
}

uint64_t read_counter(const MapFds& fds, uint32_t index) {
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return 0;
  std::vector<uint64_t> values(static_cast<size_t>(ncpu));
  if (bpf_map_lookup_elem(fds.counters, &index, values.data())) return 0;
  uint64_t sum = 0;
  for (uint64_t v : values) sum += v;
  return sum;
}

}  // namespace palisade
