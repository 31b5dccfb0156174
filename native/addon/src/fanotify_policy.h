// Pure part of the fanotify permission handler: the immutable policy tables one generation compiles
// to, and the small decisions made from them. No I/O here, so the rules can be read in one place.
#pragma once

#include <cstdint>
#include <cstdio>
#include <fcntl.h>
#include <memory>
#include <string>
#include <sys/sysmacros.h>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace palisade::fan {

enum class Mode : uint8_t { Discover, Monitor, Protect };
enum class Action : uint8_t { Allow, Alert, Deny };

// A file as the kernel sees it: dev in the kernel's encoding (major << 20 | minor), as in FileId.
struct FileKey {
  uint64_t dev = 0;
  uint64_t ino = 0;
  bool operator==(const FileKey& o) const { return dev == o.dev && ino == o.ino; }
};

struct FileKeyHash {
  size_t operator()(const FileKey& k) const { return std::hash<uint64_t>()(k.dev * 0x9e3779b97f4a7c15ULL ^ k.ino); }
};

// stat's st_dev uses the glibc encoding; the kernel (and the contract) use major << 20 | minor.
inline uint64_t KernelDev(dev_t statDev) {
  return (static_cast<uint64_t>(major(statDev)) << 20) | static_cast<uint64_t>(minor(statDev));
}

struct ProtectEntry {
  FileKey id;
  bool dir = false;
  std::string namePrefix;
  std::string path;  // inside the container, for events
};

struct ContainerTable {
  uint64_t cgroupId = 0;
  std::string rootPath;
  Mode processMode = Mode::Discover;
  Mode fileMode = Mode::Discover;
  std::unordered_set<FileKey, FileKeyHash> execAllow;
  // The same, with the paths inside the container the agent named them by.
  std::vector<std::pair<FileKey, std::string>> execAllowPaths;
  // Protected files and directories, by their own inode.
  std::unordered_map<FileKey, ProtectEntry, FileKeyHash> protect;
  // Host paths (rootPath + path) of protected directories, for matching children by name.
  std::vector<std::pair<std::string, const ProtectEntry*>> protectedDirs;
};

// One generation, never modified once published; the worker holds a shared_ptr to the one it uses.
struct PolicyTables {
  int64_t generation = 0;
  std::unordered_map<uint64_t, ContainerTable> containers;  // by cgroup id
  // Containers by the mount id of their root (several may share one), for the exec fast path.
  std::unordered_map<uint64_t, std::vector<const ContainerTable*>> byMount;
};

// What a matching event gets, by the mode of its rule kind.
inline Action ActionFor(Mode mode) {
  switch (mode) {
    case Mode::Protect:
      return Action::Deny;
    case Mode::Monitor:
      return Action::Alert;
    default:
      return Action::Allow;
  }
}

inline bool HasWriteIntent(uint64_t openFlags) {
  return (openFlags & (O_WRONLY | O_RDWR | O_TRUNC | O_CREAT | O_APPEND)) != 0;
}

inline bool NameHasPrefix(const std::string& name, const std::string& prefix) {
  return name.compare(0, prefix.size(), prefix) == 0;
}

// The open flags of a task blocked in an open-like syscall, from its /proc/<tid>/syscall line
// ("nr arg0 arg1 ... sp pc"). readHowFlags(addr, &flags) reads the u64 at a user address (openat2's
// open_how.flags) and returns false when it cannot. Flags: known; NotAnOpen: the kernel opening a
// binary for exec (a read); Unknown: anything else (the caller treats it as write intent).
struct OpenFlagsResult {
  enum Kind { Flags, NotAnOpen, Unknown } kind = Unknown;
  uint64_t flags = 0;
};

// Syscall numbers of the native ABI (a 32-bit compat task reports its own numbers: they land in
// Unknown, i.e. treated as write intent).
#if defined(__x86_64__)
constexpr long kSysOpen = 2, kSysCreat = 85, kSysOpenat = 257, kSysOpenByHandleAt = 304, kSysOpenat2 = 437,
               kSysExecve = 59, kSysExecveat = 322, kSysUselib = 134;
#elif defined(__aarch64__)
constexpr long kSysOpen = -100, kSysCreat = -101, kSysOpenat = 56, kSysOpenByHandleAt = 265, kSysOpenat2 = 437,
               kSysExecve = 221, kSysExecveat = 281, kSysUselib = -102;
#else
#error "fanotify handler: syscall numbers for this architecture are not defined"
#endif

template <typename ReadU64>
OpenFlagsResult ParseOpenFlags(const std::string& syscallLine, ReadU64&& readHowFlags) {
  OpenFlagsResult out;
  unsigned long long v[7] = {0, 0, 0, 0, 0, 0, 0};
  long nr = 0;
  // "running" or "-1 sp pc" (not in a syscall) do not parse as a syscall with arguments.
  if (std::sscanf(syscallLine.c_str(), "%ld %llx %llx %llx %llx %llx %llx", &nr, &v[0], &v[1], &v[2], &v[3],
                  &v[4], &v[5]) < 4 ||
      nr < 0)
    return out;
  if (nr == kSysOpen) {
    out.kind = OpenFlagsResult::Flags;
    out.flags = v[1];
  } else if (nr == kSysOpenat || nr == kSysOpenByHandleAt) {
    out.kind = OpenFlagsResult::Flags;
    out.flags = v[2];
  } else if (nr == kSysCreat) {
    out.kind = OpenFlagsResult::Flags;
    out.flags = O_CREAT | O_WRONLY | O_TRUNC;
  } else if (nr == kSysOpenat2) {
    uint64_t flags = 0;
    if (v[3] >= sizeof(uint64_t) && readHowFlags(v[2], &flags)) {
      out.kind = OpenFlagsResult::Flags;
      out.flags = flags;
    }
  } else if (nr == kSysExecve || nr == kSysExecveat || nr == kSysUselib) {
    out.kind = OpenFlagsResult::NotAnOpen;  // the kernel opens the binary/interpreter read-only
  }
  return out;
}

}  // namespace palisade::fan
