// fanotify permission handler: answers FAN_OPEN_EXEC_PERM (process rules, mount marks on each
// container's root) and FAN_OPEN_PERM (file rules, inode marks on protected files and directories)
// for the containers of one policy generation. Every permission event is answered; anything that goes
// wrong while deciding answers FAN_ALLOW and is counted (fail-open: a stuck answer would hang the
// container). See native/README.md "fanotify".

#include <napi.h>

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "fanotify_policy.h"

#if !defined(__cpp_exceptions)
#error "palisade_fanotify needs C++ exceptions (remove -fno-exceptions for this target)"
#endif

namespace palisade::fan {
namespace {

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif

std::string ErrnoText(const std::string& what, int err) { return what + ": " + std::strerror(err); }

// ---------------------------------------------------------------- small I/O helpers

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  ~UniqueFd() { Reset(); }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// Whole small file (procfs) or "" on error; ok tells which.
std::string ReadSmallFile(const std::string& path, bool* ok) {
  *ok = false;
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) return {};
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return {};
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (1 << 20)) return {};
  }
  *ok = true;
  return out;
}

std::string FdPath(int fd) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char target[PATH_MAX];
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n < 0) return {};
  return std::string(target, static_cast<size_t>(n));
}

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

int OpenInRoot(int rootFd, const std::string& path, uint64_t flags) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = flags;
  // Symlinks inside the container (e.g. /bin -> usr/bin, or absolute ones) resolve within its root.
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string rel = path;
  while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
  if (rel.empty()) rel = ".";
  return static_cast<int>(syscall(SYS_openat2, rootFd, rel.c_str(), &how, sizeof how));
}

uint64_t MountIdOf(int fd) {
  struct statx stx;
  std::memset(&stx, 0, sizeof stx);
  if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID | STATX_MNT_ID_UNIQUE, &stx) != 0)
    throw std::runtime_error(ErrnoText("statx", errno));
  return stx.stx_mnt_id;
}

std::string Cgroup2Mount() {
  bool ok = false;
  std::string text = ReadSmallFile("/proc/self/mountinfo", &ok);
  size_t pos = 0;
  while (ok && pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    size_t sep = line.find(" - ");
    if (sep == std::string::npos || line.compare(sep + 3, 8, "cgroup2 ") != 0) continue;
    // Fields: id parent major:minor root mountpoint ...
    std::vector<std::string> f;
    size_t p = 0;
    while (p < sep && f.size() < 5) {
      size_t q = line.find(' ', p);
      if (q == std::string::npos || q > sep) q = sep;
      f.push_back(line.substr(p, q - p));
      p = q + 1;
    }
    if (f.size() < 5) continue;
    std::string mp;  // undo mountinfo's octal escapes (\040 for a space)
    for (size_t i = 0; i < f[4].size(); i++) {
      if (f[4][i] == '\\' && i + 3 < f[4].size()) {
        mp.push_back(static_cast<char>(std::stoi(f[4].substr(i + 1, 3), nullptr, 8)));
        i += 3;
      } else {
        mp.push_back(f[4][i]);
      }
    }
    return mp;
  }
  throw std::runtime_error("no cgroup2 mount in /proc/self/mountinfo");
}

uint64_t NowRealtimeNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

// ---------------------------------------------------------------- events handed to JS

enum class Kind : uint8_t { Process, File };

struct EventRecord {
  Kind kind;
  Action action;
  uint64_t cgroupId;
  int32_t pid;
  std::string comm;
  std::string path;
  FileKey file;
  bool hasFlags = false;
  uint64_t flags = 0;
  uint64_t timeNs;
};

using EventBatch = std::vector<EventRecord>;

struct Counters {
  std::atomic<uint64_t> decisions{0};  // permission events answered
  std::atomic<uint64_t> allowed{0};
  std::atomic<uint64_t> denied{0};
  std::atomic<uint64_t> alerts{0};
  std::atomic<uint64_t> events{0};  // delivered to JS
  std::atomic<uint64_t> drops{0};   // not delivered: the JS queue was full
  std::atomic<uint64_t> errors{0};  // read/answer failures, queue overflows
  std::atomic<uint64_t> failOpen{0};  // allowed because deciding failed
  std::atomic<uint64_t> decideNs{0};  // time spent deciding (after read, before the answer is written)
};

void CallJs(Napi::Env env, Napi::Function callback, Counters* counters, EventBatch* batch);
using EventsTsfn = Napi::TypedThreadSafeFunction<Counters, EventBatch, CallJs>;

const char* ActionName(Action a) { return a == Action::Deny ? "deny" : a == Action::Alert ? "alert" : "allow"; }

void CallJs(Napi::Env env, Napi::Function callback, Counters* counters, EventBatch* batch) {
  std::unique_ptr<EventBatch> owned(batch);
  if (env == nullptr || callback.IsEmpty() || owned == nullptr) return;  // finalizing: just free
  Napi::Array arr = Napi::Array::New(env, owned->size());
  uint32_t i = 0;
  for (const EventRecord& e : *owned) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("kind", e.kind == Kind::Process ? "process" : "file");
    o.Set("action", ActionName(e.action));
    o.Set("mechanism", "fanotify");
    o.Set("cgroupId", Napi::BigInt::New(env, e.cgroupId));
    o.Set("pid", Napi::Number::New(env, e.pid));
    o.Set("comm", e.comm);
    if (!e.path.empty()) o.Set("path", e.path);
    Napi::Object file = Napi::Object::New(env);
    file.Set("dev", Napi::BigInt::New(env, e.file.dev));
    file.Set("ino", Napi::BigInt::New(env, e.file.ino));
    o.Set("file", file);
    if (e.hasFlags) o.Set("flags", Napi::Number::New(env, static_cast<double>(e.flags)));
    o.Set("timeNs", Napi::BigInt::New(env, e.timeNs));
    arr.Set(i++, o);
  }
  counters->events += owned->size();
  callback.Call({arr});
}

// ---------------------------------------------------------------- marks

// A marked object: a mount (mount marks, by mount id) or an inode (by kernel dev and ino).
struct MarkKey {
  bool mount;
  uint64_t a;
  uint64_t b;
  bool operator<(const MarkKey& o) const { return std::tie(mount, a, b) < std::tie(o.mount, o.a, o.b); }
};

struct MarkInfo {
  uint64_t mask = 0;
  std::string rootPath;  // host path of the container root
  std::string path;      // inside the root ("" for the mount mark)
};

using MarkSet = std::map<MarkKey, MarkInfo>;

int MarkFlagsFor(const MarkKey& k) { return k.mount ? FAN_MARK_MOUNT : FAN_MARK_INODE; }

// fanotify_mark does not take O_PATH fds directly; the /proc/self/fd magic link resolves to exactly
// the object the fd was opened on (no second path lookup in the container).
int MarkViaFd(int fanFd, unsigned int flags, uint64_t mask, int objFd) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", objFd);
  return fanotify_mark(fanFd, flags, mask, AT_FDCWD, link);
}

// ---------------------------------------------------------------- generation parsing (JS → C++)

Mode ParseMode(const Napi::Value& v, const std::string& where) {
  if (v.IsString()) {
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s == "discover") return Mode::Discover;
    if (s == "monitor") return Mode::Monitor;
    if (s == "protect") return Mode::Protect;
  }
  throw std::runtime_error(where + ": expected 'discover' | 'monitor' | 'protect'");
}

uint64_t ParseU64(const Napi::Value& v, const std::string& where) {
  if (!v.IsBigInt()) throw std::runtime_error(where + ": expected a bigint");
  bool lossless = false;
  uint64_t out = v.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw std::runtime_error(where + ": bigint out of the u64 range");
  return out;
}

std::string ParseString(const Napi::Value& v, const std::string& where) {
  if (!v.IsString()) throw std::runtime_error(where + ": expected a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) throw std::runtime_error(where + ": contains a NUL byte");
  return s;
}

std::string ParseAbsPath(const Napi::Value& v, const std::string& where) {
  std::string s = ParseString(v, where);
  if (s.empty() || s.front() != '/') throw std::runtime_error(where + ": expected an absolute path");
  return s;
}

Napi::Object ParseObject(const Napi::Value& v, const std::string& where) {
  if (!v.IsObject() || v.IsArray()) throw std::runtime_error(where + ": expected an object");
  return v.As<Napi::Object>();
}

Napi::Array ParseArray(const Napi::Value& v, const std::string& where) {
  if (!v.IsArray()) throw std::runtime_error(where + ": expected an array");
  return v.As<Napi::Array>();
}

// The generation as compiled tables plus the marks it needs, with the O_PATH fds opened while
// resolving (marks are added through them, so they hit exactly the objects that were checked).
struct Prepared {
  std::shared_ptr<PolicyTables> tables;
  MarkSet marks;
  std::map<MarkKey, UniqueFd> fds;
  // Binaries every container on their mount may run: ignore marks so their execs raise no
  // permission event at all (no round trip through this handler). By inode, with an O_PATH fd each.
  std::map<FileKey, UniqueFd, bool (*)(const FileKey&, const FileKey&)> ignores{
      [](const FileKey& a, const FileKey& b) { return std::tie(a.dev, a.ino) < std::tie(b.dev, b.ino); }};
};

void Prepare(const Napi::Value& input, int64_t currentGeneration, Prepared* out) {
  Napi::Object gen = ParseObject(input, "generation");
  Napi::Value num = gen.Get("generation");
  if (!num.IsNumber()) throw std::runtime_error("generation.generation: expected a number");
  double g = num.As<Napi::Number>().DoubleValue();
  if (!(g >= 0) || g != static_cast<double>(static_cast<int64_t>(g)) || g > 9007199254740991.0)
    throw std::runtime_error("generation.generation: expected a non-negative integer");
  if (static_cast<int64_t>(g) <= currentGeneration)
    throw std::runtime_error("generation.generation " + std::to_string(static_cast<int64_t>(g)) +
                             " is not greater than the current generation " + std::to_string(currentGeneration));
  auto tables = std::make_shared<PolicyTables>();
  tables->generation = static_cast<int64_t>(g);
  Napi::Array containers = ParseArray(gen.Get("containers"), "generation.containers");

  // First the whole input's shape, so a typo late in the list is reported before any file is opened.
  for (uint32_t i = 0; i < containers.Length(); i++) {
    std::string where = "containers[" + std::to_string(i) + "]";
    Napi::Object c = ParseObject(containers.Get(i), where);
    ContainerTable t;
    t.cgroupId = ParseU64(c.Get("cgroupId"), where + ".cgroupId");
    if (t.cgroupId == 0) throw std::runtime_error(where + ".cgroupId: must not be 0");
    t.rootPath = ParseAbsPath(c.Get("rootPath"), where + ".rootPath");
    Napi::Object modes = ParseObject(c.Get("modes"), where + ".modes");
    t.processMode = ParseMode(modes.Get("process"), where + ".modes.process");
    t.fileMode = ParseMode(modes.Get("file"), where + ".modes.file");
    ParseMode(modes.Get("network"), where + ".modes.network");
    Napi::Array allow = ParseArray(c.Get("execAllow"), where + ".execAllow");
    for (uint32_t j = 0; j < allow.Length(); j++) {
      std::string w = where + ".execAllow[" + std::to_string(j) + "]";
      Napi::Object a = ParseObject(allow.Get(j), w);
      FileKey k{ParseU64(a.Get("dev"), w + ".dev"), ParseU64(a.Get("ino"), w + ".ino")};
      std::string path = ParseString(a.Get("path"), w + ".path");
      t.execAllow.insert(k);
      t.execAllowPaths.emplace_back(k, path);
    }
    Napi::Array protect = ParseArray(c.Get("fileProtect"), where + ".fileProtect");
    for (uint32_t j = 0; j < protect.Length(); j++) {
      std::string w = where + ".fileProtect[" + std::to_string(j) + "]";
      Napi::Object p = ParseObject(protect.Get(j), w);
      Napi::Object id = ParseObject(p.Get("id"), w + ".id");
      ProtectEntry e;
      e.id = FileKey{ParseU64(id.Get("dev"), w + ".id.dev"), ParseU64(id.Get("ino"), w + ".id.ino")};
      Napi::Value dir = p.Get("dir");
      if (!dir.IsBoolean()) throw std::runtime_error(w + ".dir: expected a boolean");
      e.dir = dir.As<Napi::Boolean>().Value();
      Napi::Value prefix = p.Get("namePrefix");
      if (!prefix.IsUndefined()) {
        e.namePrefix = ParseString(prefix, w + ".namePrefix");
        if (e.namePrefix.find('/') != std::string::npos)
          throw std::runtime_error(w + ".namePrefix: must not contain '/'");
        if (!e.dir && !e.namePrefix.empty()) throw std::runtime_error(w + ".namePrefix: only for a directory");
      }
      e.path = ParseAbsPath(p.Get("path"), w + ".path");
      if (t.protect.count(e.id)) throw std::runtime_error(w + ": the same file is listed twice");
      t.protect.emplace(e.id, e);
    }
    ParseArray(c.Get("netAllow"), where + ".netAllow");  // enforced elsewhere; shape only
    if (tables->containers.count(t.cgroupId))
      throw std::runtime_error(where + ".cgroupId " + std::to_string(t.cgroupId) + " appears twice");
    tables->containers.emplace(t.cgroupId, std::move(t));
  }

  // Then the filesystem: every root and protected path must resolve to the inode the agent named.
  for (auto& [cg, t] : tables->containers) {
    std::string where = "container " + std::to_string(cg);
    UniqueFd root(open(t.rootPath.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root.ok()) throw std::runtime_error(ErrnoText(where + ": rootPath " + t.rootPath, errno));
    MarkKey mk{true, MountIdOf(root.get()), 0};
    MarkInfo& mi = out->marks[mk];
    mi.mask |= FAN_OPEN_EXEC_PERM;  // process rules in every mode: discover/monitor need events too
    mi.rootPath = t.rootPath;
    if (!out->fds.count(mk)) out->fds.emplace(mk, UniqueFd(dup(root.get())));
    for (auto& [key, e] : t.protect) {
      UniqueFd fd(OpenInRoot(root.get(), e.path, O_PATH | O_CLOEXEC));
      if (!fd.ok()) throw std::runtime_error(ErrnoText(where + ": protected path " + e.path, errno));
      struct stat st;
      if (fstat(fd.get(), &st) != 0) throw std::runtime_error(ErrnoText(where + ": stat " + e.path, errno));
      FileKey actual{KernelDev(st.st_dev), static_cast<uint64_t>(st.st_ino)};
      if (!(actual == e.id))
        throw std::runtime_error(where + ": protected path " + e.path + " is dev " + std::to_string(actual.dev) +
                                 " ino " + std::to_string(actual.ino) + ", not the given dev " +
                                 std::to_string(e.id.dev) + " ino " + std::to_string(e.id.ino));
      if (S_ISDIR(st.st_mode) != e.dir)
        throw std::runtime_error(where + ": protected path " + e.path + (e.dir ? " is not a directory" : " is a directory"));
      MarkKey ik{false, actual.dev, actual.ino};
      MarkInfo& info = out->marks[ik];
      info.mask |= FAN_OPEN_PERM | (e.dir ? FAN_EVENT_ON_CHILD : 0);
      info.rootPath = t.rootPath;
      info.path = e.path;
      if (!out->fds.count(ik)) out->fds.emplace(ik, std::move(fd));
    }
    for (auto& [key, e] : t.protect)
      if (e.dir) t.protectedDirs.emplace_back(e.path, &e);
    tables->byMount[mk.a].push_back(&t);
  }
  // Ignore marks: only for a binary that every container rooted on its mount allows (the same rule as
  // the exec fast path), and only when the path still leads to that inode. Best effort: a binary left
  // out is still decided by the handler.
  for (auto& [mount, list] : tables->byMount) {
    const ContainerTable* first = list.front();
    UniqueFd root(open(first->rootPath.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root.ok()) continue;
    for (const auto& [key, path] : first->execAllowPaths) {
      bool all = true;
      for (const ContainerTable* c : list) all = all && c->execAllow.count(key);
      if (!all || out->ignores.count(key)) continue;
      UniqueFd fd(OpenInRoot(root.get(), path, O_PATH | O_CLOEXEC));
      struct stat st;
      if (!fd.ok() || fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      if (!(FileKey{KernelDev(st.st_dev), static_cast<uint64_t>(st.st_ino)} == key)) continue;
      // Not for a protected file or a child of a protected directory: there the exec event is what
      // lets the handler recognise the FAN_OPEN_PERM that follows as the exec's own read (cheap),
      // instead of looking the open up in /proc (expensive).
      const std::string parent = path.substr(0, path.rfind('/'));
      UniqueFd pfd(OpenInRoot(root.get(), parent.empty() ? "/" : parent, O_PATH | O_DIRECTORY | O_CLOEXEC));
      struct stat ps;
      if (!pfd.ok() || fstat(pfd.get(), &ps) != 0) continue;
      const FileKey parentKey{KernelDev(ps.st_dev), static_cast<uint64_t>(ps.st_ino)};
      bool touchesProtected = false;
      for (const ContainerTable* c : list) {
        auto d = c->protect.find(parentKey);
        touchesProtected = touchesProtected || c->protect.count(key) || (d != c->protect.end() && d->second.dir);
      }
      if (touchesProtected) continue;
      out->ignores.emplace(key, std::move(fd));
    }
  }
  out->tables = std::move(tables);
}

// ---------------------------------------------------------------- the handler

constexpr int kWorkerNice = -10;

class Handler {
 public:
  Handler(Napi::Env env, Napi::Function onEvents, size_t maxQueuedBatches) {
    cgroupRoot_ = Cgroup2Mount();
    fanFd_ = UniqueFd(fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_TID | FAN_UNLIMITED_QUEUE,
                                    O_RDONLY | O_LARGEFILE | O_CLOEXEC));
    if (!fanFd_.ok()) throw std::runtime_error(ErrnoText("fanotify_init", errno));
    stopFd_ = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stopFd_.ok()) throw std::runtime_error(ErrnoText("eventfd", errno));
    tsfn_ = EventsTsfn::New(env, onEvents, "palisade-fanotify-events", maxQueuedBatches, 1, &counters_);
    tsfn_.Unref(env);  // an open handler alone does not keep the process alive
    worker_ = std::thread([this] { Run(); });
  }

  ~Handler() { Close(); }

  void SetGeneration(const Napi::Value& input) {
    if (closed_) throw std::logic_error("the fanotify handler is closed");
    Prepared next;
    auto cur = Current();
    Prepare(input, cur ? cur->generation : -1, &next);

    // Ignore marks no longer wanted go first (until the swap the old tables decide, and they allowed
    // these anyway); new ones are added after the marks below succeeded.
    for (auto it = ignores_.begin(); it != ignores_.end();) {
      if (next.ignores.count(it->first)) {
        ++it;
        continue;
      }
      MarkViaFd(fanFd_.get(), FAN_MARK_REMOVE | FAN_MARK_INODE | FAN_MARK_IGNORED_MASK, FAN_OPEN_EXEC_PERM,
                it->second.get());
      it = ignores_.erase(it);
    }
    // Add what is new (bits not yet marked); undo those if any add fails, so nothing changes.
    std::vector<std::pair<MarkKey, uint64_t>> added;
    for (auto& [key, info] : next.marks) {
      auto had = marks_.find(key);
      uint64_t have = had == marks_.end() ? 0 : had->second.mask;
      uint64_t add = info.mask & ~have;
      if (!add) continue;
      if (MarkViaFd(fanFd_.get(), FAN_MARK_ADD | MarkFlagsFor(key), add, next.fds[key].get()) != 0) {
        int err = errno;
        for (auto& [k, bits] : added) MarkViaFd(fanFd_.get(), FAN_MARK_REMOVE | MarkFlagsFor(k), bits, next.fds[k].get());
        throw std::runtime_error(ErrnoText("fanotify_mark " + info.rootPath + info.path, err));
      }
      added.emplace_back(key, add);
    }
    for (auto& [key, fd] : next.ignores) {
      if (ignores_.count(key)) continue;
      // Cleared by the kernel if the file is modified (no FAN_MARK_IGNORED_SURV_MODIFY): then the
      // handler decides its execs again.
      if (MarkViaFd(fanFd_.get(), FAN_MARK_ADD | FAN_MARK_INODE | FAN_MARK_IGNORED_MASK, FAN_OPEN_EXEC_PERM,
                    fd.get()) == 0)
        ignores_.emplace(key, std::move(fd));
    }
    {
      std::lock_guard<std::mutex> lock(tablesMu_);
      tables_ = next.tables;
    }
    // Drop marks the new generation does not need. The object may be gone (container exited): then
    // its mark went with it, or lingers harmlessly (events for it are allowed) until close().
    for (auto& [key, info] : marks_) {
      auto nxt = next.marks.find(key);
      uint64_t remove = info.mask & ~(nxt == next.marks.end() ? 0 : nxt->second.mask);
      if (!remove) continue;
      if (!RemoveMark(key, info, remove)) staleMarks_++;
    }
    marks_ = std::move(next.marks);
  }

  Napi::Object Status(Napi::Env env) {
    Napi::Object o = Napi::Object::New(env);
    auto n = [&](const char* name, uint64_t v) { o.Set(name, Napi::Number::New(env, static_cast<double>(v))); };
    n("decisions", counters_.decisions);
    n("allowed", counters_.allowed);
    n("denied", counters_.denied);
    n("alerts", counters_.alerts);
    n("events", counters_.events);
    n("drops", counters_.drops);
    n("errors", counters_.errors);
    n("failOpen", counters_.failOpen);
    n("decideNs", counters_.decideNs);
    auto cur = Current();
    n("generation", cur ? static_cast<uint64_t>(cur->generation) : 0);
    n("marks", closed_ ? 0 : marks_.size());
    n("ignoreMarks", closed_ ? 0 : ignores_.size());
    n("staleMarks", staleMarks_);
    o.Set("closed", Napi::Boolean::New(env, closed_));
    return o;
  }

  // Removes every mark, stops the worker and closes the group; the kernel answers FAN_ALLOW to any
  // permission event still queued when the fd closes.
  void Close() {
    if (closed_) return;
    closed_ = true;
    fanotify_mark(fanFd_.get(), FAN_MARK_FLUSH | FAN_MARK_MOUNT, 0, AT_FDCWD, nullptr);
    fanotify_mark(fanFd_.get(), FAN_MARK_FLUSH | FAN_MARK_FILESYSTEM, 0, AT_FDCWD, nullptr);
    fanotify_mark(fanFd_.get(), FAN_MARK_FLUSH, 0, AT_FDCWD, nullptr);
    uint64_t one = 1;
    if (write(stopFd_.get(), &one, sizeof one) < 0) counters_.errors++;
    if (worker_.joinable()) worker_.join();
    fanFd_.Reset();
    stopFd_.Reset();
    marks_.clear();
    ignores_.clear();
    tsfn_.Release();
  }

 private:
  std::shared_ptr<const PolicyTables> Current() {
    std::lock_guard<std::mutex> lock(tablesMu_);
    return tables_;
  }

  bool RemoveMark(const MarkKey& key, const MarkInfo& info, uint64_t bits) noexcept {
    try {
      return TryRemoveMark(key, info, bits);
    } catch (...) {
      return false;
    }
  }

  bool TryRemoveMark(const MarkKey& key, const MarkInfo& info, uint64_t bits) {
    UniqueFd root(open(info.rootPath.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root.ok()) return false;
    UniqueFd obj(key.mount ? dup(root.get()) : OpenInRoot(root.get(), info.path, O_PATH | O_CLOEXEC));
    if (!obj.ok()) return false;
    // Only remove from the object we marked, never from whatever the path names now.
    if (key.mount) {
      if (MountIdOf(obj.get()) != key.a) return false;
    } else {
      struct stat st;
      if (fstat(obj.get(), &st) != 0 || KernelDev(st.st_dev) != key.a || static_cast<uint64_t>(st.st_ino) != key.b)
        return false;
    }
    return MarkViaFd(fanFd_.get(), FAN_MARK_REMOVE | MarkFlagsFor(key), bits, obj.get()) == 0;
  }

  void Run() {
    // Every exec/open in a marked container waits for this thread: let it preempt ordinary work.
    // Best effort (needs CAP_SYS_NICE); failure only costs latency.
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), kWorkerNice);
    alignas(fanotify_event_metadata) static thread_local char buf[64 * 1024];
    pollfd fds[2] = {{fanFd_.get(), POLLIN, 0}, {stopFd_.get(), POLLIN, 0}};
    for (;;) {
      int r = poll(fds, 2, -1);
      if (r < 0) {
        if (errno == EINTR) continue;
        counters_.errors++;
        continue;
      }
      if (fds[1].revents) return;
      ssize_t len = read(fanFd_.get(), buf, sizeof buf);
      if (len < 0) {
        if (errno != EAGAIN && errno != EINTR) counters_.errors++;
        continue;
      }
      auto batch = std::make_unique<EventBatch>();
      auto* meta = reinterpret_cast<fanotify_event_metadata*>(buf);
      while (FAN_EVENT_OK(meta, len)) {
        HandleOne(*meta, batch.get());
        meta = FAN_EVENT_NEXT(meta, len);
      }
      if (!batch->empty()) Deliver(std::move(batch));
    }
  }

  void Deliver(std::unique_ptr<EventBatch> batch) {
    size_t n = batch->size();
    napi_status st = tsfn_.NonBlockingCall(batch.get());
    if (st == napi_ok) {
      batch.release();  // CallJs owns it now
    } else {
      counters_.drops += n;  // queue full (JS is behind) or closing: counted, never waited for
    }
  }

  void HandleOne(const fanotify_event_metadata& m, EventBatch* batch) {
    if (m.vers != FANOTIFY_METADATA_VERSION) {
      counters_.errors++;
      if (m.fd >= 0) close(m.fd);
      return;
    }
    if (m.mask & FAN_Q_OVERFLOW) counters_.errors++;
    if (m.fd < 0) return;
    const bool perm = (m.mask & (FAN_OPEN_PERM | FAN_OPEN_EXEC_PERM | FAN_ACCESS_PERM)) != 0;
    uint32_t answer = FAN_ALLOW;
    if (perm) {
      struct timespec t0, t1;
      clock_gettime(CLOCK_MONOTONIC, &t0);
      size_t before = batch->size();
      try {
        answer = Decide(m, batch);
      } catch (...) {
        batch->resize(before);
        answer = FAN_ALLOW;  // fail-open, counted
        counters_.failOpen++;
      }
      clock_gettime(CLOCK_MONOTONIC, &t1);
      counters_.decideNs += static_cast<uint64_t>((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
      struct fanotify_response resp;
      resp.fd = m.fd;
      resp.response = answer;
      ssize_t w;
      do {
        w = write(fanFd_.get(), &resp, sizeof resp);
      } while (w < 0 && errno == EINTR);
      if (w != static_cast<ssize_t>(sizeof resp)) counters_.errors++;
      counters_.decisions++;
      if (answer == FAN_DENY)
        counters_.denied++;
      else
        counters_.allowed++;
    }
    close(m.fd);
  }

  // The container a thread belongs to: the nearest ancestor of its cgroup v2 path that is one of ours.
  const ContainerTable* ContainerOf(const PolicyTables& t, int32_t tid) {
    bool ok = false;
    std::string text = ReadSmallFile("/proc/" + std::to_string(tid) + "/cgroup", &ok);
    if (!ok) throw std::runtime_error("cgroup of task unreadable");
    size_t at = text.rfind("0::", 0) == 0 ? 0 : text.find("\n0::");
    if (at == std::string::npos) throw std::runtime_error("no cgroup v2 line");
    if (at != 0) at++;
    size_t end = text.find('\n', at);
    std::string path = text.substr(at + 3, end == std::string::npos ? std::string::npos : end - at - 3);
    const std::string deleted = " (deleted)";
    if (path.size() > deleted.size() && path.compare(path.size() - deleted.size(), deleted.size(), deleted) == 0)
      path.resize(path.size() - deleted.size());
    for (;;) {
      uint64_t ino = CgroupInode(path);
      if (ino) {
        auto it = t.containers.find(ino);
        if (it != t.containers.end()) return &it->second;
      }
      if (path.empty() || path == "/") return nullptr;
      size_t slash = path.rfind('/');
      path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
    }
  }

  static bool AllowedByAllOnMount(const PolicyTables& t, uint64_t mountId, const FileKey& file) {
    auto it = t.byMount.find(mountId);
    if (it == t.byMount.end() || it->second.empty()) return false;
    for (const ContainerTable* c : it->second)
      if (!c->execAllow.count(file)) return false;
    return true;
  }

  uint64_t CgroupInode(const std::string& path) {
    auto it = cgroupCache_.find(path);
    if (it != cgroupCache_.end()) return it->second;
    struct stat st;
    uint64_t ino = stat((cgroupRoot_ + path).c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
    if (cgroupCache_.size() > 8192) cgroupCache_.clear();
    if (ino) cgroupCache_.emplace(path, ino);  // a missing cgroup is not cached: it may appear
    return ino;
  }

  uint32_t Decide(const fanotify_event_metadata& m, EventBatch* batch) {
    auto tables = Current();
    if (!tables) return FAN_ALLOW;
    if (tables.get() != cacheFor_) {  // cgroup paths may have been recreated: start afresh per generation
      cgroupCache_.clear();
      cacheFor_ = tables.get();
      lastExecTid_ = -1;  // marks may differ in the new generation
    }
    struct statx stx;
    if (statx(m.fd, "", AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID | STATX_MNT_ID_UNIQUE, &stx) != 0)
      throw std::runtime_error("statx event fd");
    FileKey file{(static_cast<uint64_t>(stx.stx_dev_major) << 20) | stx.stx_dev_minor, stx.stx_ino};

    // Fast path for the common exec: a binary every container rooted on this mount allows is allowed
    // whoever runs it (the host and other containers are not restricted by these containers' lists;
    // another container's execs of files outside its own root are the BPF backstop's).
    // The open that follows an exec we just allowed (same thread, same file) is that exec's read.
    if (m.mask == FAN_OPEN_PERM && IsExecOpen(m.pid, file)) return FAN_ALLOW;
    if (m.mask == FAN_OPEN_EXEC_PERM && AllowedByAllOnMount(*tables, stx.stx_mnt_id, file)) {
      RememberExec(m.pid, file);
      return FAN_ALLOW;
    }

    const ContainerTable* c = ContainerOf(*tables, m.pid);
    if (!c) return FAN_ALLOW;  // not a container of ours (host, other containers)
    Action verdict = Action::Allow;

    if (m.mask & FAN_OPEN_EXEC_PERM) {
      if (!c->execAllow.count(file)) {
        Action a = ActionFor(c->processMode);
        Emit(batch, Kind::Process, a, *c, m, file, false, 0);
        if (a == Action::Deny) verdict = Action::Deny;
      }
    }
    if ((m.mask & FAN_OPEN_PERM) && !c->protect.empty()) {
      Action a = DecideFileOpen(*c, m, file, batch);
      if (a == Action::Deny) verdict = Action::Deny;
    }
    if ((m.mask & FAN_OPEN_EXEC_PERM) && verdict != Action::Deny) RememberExec(m.pid, file);
    return verdict == Action::Deny ? FAN_DENY : FAN_ALLOW;
  }

  void RememberExec(int32_t tid, const FileKey& file) {
    lastExecTid_ = tid;
    lastExecFile_ = file;
  }

  /** The FAN_OPEN_PERM that follows an allowed exec of the same file by the same thread (a read). */
  bool IsExecOpen(int32_t tid, const FileKey& file) {
    const bool same = tid == lastExecTid_ && file == lastExecFile_;
    lastExecTid_ = -1;
    return same;
  }

  /**
   * /proc/<tid>/syscall of a task on its way into the permission wait. The event can reach us before
   * the task is asleep, when the file still says "running": wait for it briefly rather than guess
   * (a guess of "write" would refuse a legitimate read).
   */
  std::string BlockedSyscallLine(const std::string& tidDir, bool* ok) {
    std::string line;
    for (int attempt = 0; attempt < 200; attempt++) {  // at most ~10 ms
      line = ReadSmallFile(tidDir + "/syscall", ok);
      if (!*ok || line.compare(0, 7, "running") != 0) return line;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    return line;
  }

  Action DecideFileOpen(const ContainerTable& c, const fanotify_event_metadata& m, const FileKey& file,
                        EventBatch* batch) {
    const bool direct = c.protect.count(file) && !c.protect.at(file).dir;
    if (!direct && c.protectedDirs.empty()) return Action::Allow;
    // Cheap test first: most opens of marked inodes are reads.
    std::string tidDir = "/proc/" + std::to_string(m.pid);
    bool ok = false;
    std::string line = BlockedSyscallLine(tidDir, &ok);
    OpenFlagsResult of;
    if (ok) {
      of = ParseOpenFlags(line, [&](uint64_t addr, uint64_t* flags) {
        UniqueFd mem(open((tidDir + "/mem").c_str(), O_RDONLY | O_CLOEXEC));
        return mem.ok() && pread(mem.get(), flags, sizeof *flags, static_cast<off_t>(addr)) == sizeof *flags;
      });
    }
    if (of.kind == OpenFlagsResult::NotAnOpen) return Action::Allow;
    if (of.kind == OpenFlagsResult::Flags && !HasWriteIntent(of.flags)) return Action::Allow;
    // Write intent, or flags we cannot know (treated as write — see README).
    const bool known = of.kind == OpenFlagsResult::Flags;
    if (!direct) {
      if (!ChildOfProtectedDir(c, m.fd, file)) return Action::Allow;
    }
    Action a = ActionFor(c.fileMode);
    Emit(batch, Kind::File, a, c, m, file, known, known ? of.flags : 0);
    return a;
  }

  // Is the opened file a direct child, with the right name prefix, of one of the protected directories?
  bool ChildOfProtectedDir(const ContainerTable& c, int eventFd, const FileKey& file) {
    if (c.protectedDirs.empty()) return false;
    std::string name = Basename(FdPath(eventFd));
    if (name.empty() || name == "/" ) return false;
    UniqueFd root;
    for (const auto& [dirPath, entry] : c.protectedDirs) {
      if (!NameHasPrefix(name, entry->namePrefix)) continue;
      if (!root.ok()) {
        root = UniqueFd(open(c.rootPath.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root.ok()) throw std::runtime_error("container root unreachable");
      }
      UniqueFd dir(OpenInRoot(root.get(), dirPath, O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!dir.ok()) continue;
      struct stat ds, cs;
      if (fstat(dir.get(), &ds) != 0 || KernelDev(ds.st_dev) != entry->id.dev ||
          static_cast<uint64_t>(ds.st_ino) != entry->id.ino)
        continue;
      if (fstatat(dir.get(), name.c_str(), &cs, AT_SYMLINK_NOFOLLOW) == 0 && KernelDev(cs.st_dev) == file.dev &&
          static_cast<uint64_t>(cs.st_ino) == file.ino)
        return true;
    }
    return false;
  }

  void Emit(EventBatch* batch, Kind kind, Action action, const ContainerTable& c, const fanotify_event_metadata& m,
            const FileKey& file, bool hasFlags, uint64_t flags) {
    if (action == Action::Alert) counters_.alerts++;
    EventRecord e;
    e.kind = kind;
    e.action = action;
    e.cgroupId = c.cgroupId;
    e.pid = m.pid;
    bool ok = false;
    e.comm = ReadSmallFile("/proc/" + std::to_string(m.pid) + "/comm", &ok);
    while (!e.comm.empty() && e.comm.back() == '\n') e.comm.pop_back();
    e.path = FdPath(m.fd);
    e.file = file;
    e.hasFlags = hasFlags;
    e.flags = flags;
    e.timeNs = NowRealtimeNs();
    batch->push_back(std::move(e));
  }

  std::string cgroupRoot_;
  UniqueFd fanFd_;
  UniqueFd stopFd_;
  EventsTsfn tsfn_;
  std::thread worker_;
  Counters counters_;
  std::mutex tablesMu_;
  std::shared_ptr<const PolicyTables> tables_;
  MarkSet marks_;  // JS thread only
  decltype(Prepared::ignores) ignores_{
      [](const FileKey& a, const FileKey& b) { return std::tie(a.dev, a.ino) < std::tie(b.dev, b.ino); }};
  uint64_t staleMarks_ = 0;
  bool closed_ = false;
  // Worker thread only.
  std::unordered_map<std::string, uint64_t> cgroupCache_;
  const PolicyTables* cacheFor_ = nullptr;
  // The exec this thread just allowed: the kernel's FAN_OPEN_PERM for the same open follows it at once
  // (execve opens the binary read-only), so it needs no /proc look-up.
  int32_t lastExecTid_ = -1;
  FileKey lastExecFile_{0, 0};
};

// ---------------------------------------------------------------- JS class

class FanotifyHandler : public Napi::ObjectWrap<FanotifyHandler> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FanotifyHandler",
                       {InstanceMethod("setGeneration", &FanotifyHandler::SetGeneration),
                        InstanceMethod("status", &FanotifyHandler::Status),
                        InstanceMethod("close", &FanotifyHandler::Close)});
  }

  // new FanotifyHandler(onEvents: (events) => void, maxQueuedBatches?: number)
  explicit FanotifyHandler(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FanotifyHandler>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "FanotifyHandler: onEvents must be a function");
    size_t maxQueued = 1024;
    if (info.Length() > 1 && !info[1].IsUndefined()) {
      if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "FanotifyHandler: maxQueuedBatches must be a number");
      double v = info[1].As<Napi::Number>().DoubleValue();
      if (!(v >= 1 && v <= 1e6)) throw Napi::RangeError::New(env, "FanotifyHandler: maxQueuedBatches out of range");
      maxQueued = static_cast<size_t>(v);
    }
    try {
      handler_ = std::make_unique<Handler>(env, info[0].As<Napi::Function>(), maxQueued);
    } catch (const std::runtime_error& e) {
      throw Napi::Error::New(env, std::string("fanotify: ") + e.what());
    }
    // At environment teardown the worker must be joined before the TSFN goes away.
    hookEnv_ = env;
    if (napi_add_env_cleanup_hook(env, &FanotifyHandler::AtTeardown, this) == napi_ok) hooked_ = true;
  }

  ~FanotifyHandler() override {
    if (hooked_) napi_remove_env_cleanup_hook(hookEnv_, &FanotifyHandler::AtTeardown, this);
  }

 private:
  Napi::Value SetGeneration(const Napi::CallbackInfo& info) {
    try {
      handler_->SetGeneration(info[0]);
    } catch (const std::logic_error& e) {
      throw Napi::Error::New(info.Env(), std::string("fanotify: ") + e.what());
    } catch (const std::runtime_error& e) {
      throw Napi::Error::New(info.Env(), std::string("fanotify: bad generation: ") + e.what());
    }
    return info.Env().Undefined();
  }

  Napi::Value Status(const Napi::CallbackInfo& info) { return handler_->Status(info.Env()); }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    handler_->Close();
    return info.Env().Undefined();
  }

  static void AtTeardown(void* self) {
    auto* me = static_cast<FanotifyHandler*>(self);
    me->hooked_ = false;
    me->handler_->Close();
  }

  std::unique_ptr<Handler> handler_;
  napi_env hookEnv_ = nullptr;
  bool hooked_ = false;
};

}  // namespace
}  // namespace palisade::fan

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("FanotifyHandler", palisade::fan::FanotifyHandler::Define(env));
  return exports;
}

NODE_API_MODULE(palisade_fanotify, Init)
