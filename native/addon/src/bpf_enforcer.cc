#include "bpf_enforcer.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <stdexcept>

#include "palisade.skel.h"

namespace palisade {

namespace {

const char* const kMapNames[] = {"pal_config",    "pal_containers", "pal_exec_allow", "pal_file_prot",
                                 "pal_net_allow", "pal_events",     "pal_counters"};
// Key and value sizes each pinned map must have: pins from an incompatible build are refused.
const uint32_t kMapKeySizes[] = {sizeof(uint32_t), sizeof(pal_container_key), sizeof(pal_file_key),
                                 sizeof(pal_file_key), sizeof(pal_net_key), 0, sizeof(uint32_t)};
const uint32_t kMapValueSizes[] = {sizeof(pal_config), sizeof(pal_container), sizeof(uint8_t),
                                   sizeof(pal_file_protect), sizeof(uint8_t), 0, sizeof(uint64_t)};
const char* const kFallbackProgs[] = {"pal_exec_tp", "pal_conn4", "pal_conn6"};
const char* const kLsmProgs[] = {"pal_exec_lsm", "pal_file_lsm", "pal_conn_lsm"};
constexpr uint32_t kBackendFallback = 0;
constexpr uint32_t kBackendLsm = 1;

std::string errno_text(int err) {
  if (err < 0) err = -err;
  const char* name = strerrorname_np(err);
  const char* desc = strerrordesc_np(err);
  return std::string(name ? name : "E?") + ": " + (desc ? desc : "unknown error");
}

// libbpf's own messages, kept (instead of printed) so failures can carry them.
std::string g_libbpf_log;
int capture_libbpf(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char buf[1024];
  int n = vsnprintf(buf, sizeof(buf), fmt, args);
  if (g_libbpf_log.size() < 16384) g_libbpf_log += buf;
  return n;
}

std::string join(const std::string& dir, const std::string& name) { return dir + "/" + name; }

bool exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

void ensure_pin_dir(const std::string& dir) {
  std::string parent = dir.substr(0, dir.find_last_of('/'));
  if (parent.empty()) parent = "/";
  struct statfs fs;
  if (statfs(parent.c_str(), &fs) != 0)
    throw std::runtime_error("pinDir parent " + parent + ": " + errno_text(errno));
  // Hosts without systemd may not have bpffs mounted at its usual place: mount it there.
  if (static_cast<unsigned long>(fs.f_type) != BPF_FS_MAGIC && parent == "/sys/fs/bpf" &&
      mount("bpf", parent.c_str(), "bpf", 0, "mode=0700") == 0 && statfs(parent.c_str(), &fs) != 0)
    throw std::runtime_error("pinDir parent " + parent + ": " + errno_text(errno));
  if (static_cast<unsigned long>(fs.f_type) != BPF_FS_MAGIC)
    throw std::runtime_error("pinDir parent " + parent +
                             " is not a bpffs mount (mount -t bpf bpf /sys/fs/bpf)");
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw std::runtime_error("mkdir " + dir + ": " + errno_text(errno));
}

// Removes our pins from `dir` (links detached first). Returns how many entries were removed.
int remove_pins(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return 0;
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.rfind("pal_", 0) == 0 || n.rfind("link_pal_", 0) == 0 || n.rfind("prog_pal_", 0) == 0)
      names.push_back(n);
  }
  closedir(d);
  for (const auto& n : names) {
    if (n.rfind("link_", 0) != 0) continue;
    int fd = bpf_obj_get(join(dir, n).c_str());
    if (fd >= 0) {
      bpf_link_detach(fd);  // best effort: removing the last pin detaches it anyway
      close(fd);
    }
  }
  int removed = 0;
  for (const auto& n : names)
    if (unlink(join(dir, n).c_str()) == 0) removed++;
  rmdir(dir.c_str());  // only succeeds when nothing else lives there
  return removed;
}

struct LoadOptions {
  std::string pin_dir;
  std::string cgroup_root;
  uint32_t ringbuf_bytes;
};

void check_link(bpf_link* link, const char* prog) {
  if (!link)
    throw std::runtime_error(std::string("attaching ") + prog + ": " + errno_text(errno));
}

// Loads, attaches and pins one back-end. On failure nothing of it stays pinned.
void install(bool lsm, const LoadOptions& opts) {
  palisade_bpf* skel = palisade_bpf__open();
  if (!skel) throw std::runtime_error("opening BPF object: " + errno_text(errno));
  std::vector<bpf_link*> links;
  std::vector<std::string> link_names;
  auto cleanup = [&]() {
    for (bpf_link* l : links) bpf_link__destroy(l);
    palisade_bpf__destroy(skel);
  };
  try {
    bpf_program__set_autoload(skel->progs.pal_exec_tp, !lsm);
    bpf_program__set_autoload(skel->progs.pal_conn4, !lsm);
    bpf_program__set_autoload(skel->progs.pal_conn6, !lsm);
    bpf_program__set_autoload(skel->progs.pal_exec_lsm, lsm);
    bpf_program__set_autoload(skel->progs.pal_file_lsm, lsm);
    bpf_program__set_autoload(skel->progs.pal_conn_lsm, lsm);
    if (bpf_map__set_max_entries(skel->maps.pal_events, opts.ringbuf_bytes))
      throw std::runtime_error("ringBufferBytes " + std::to_string(opts.ringbuf_bytes) + ": " +
                               errno_text(errno));
    g_libbpf_log.clear();
    int err = palisade_bpf__load(skel);
    if (err) throw std::runtime_error("program load refused (" + errno_text(err) + ")");

    pal_config cfg{};
    cfg.backend = lsm ? kBackendLsm : kBackendFallback;
    MapFds fds;
    fds.config = bpf_map__fd(skel->maps.pal_config);
    write_config(fds, cfg);

    if (lsm) {
      for (bpf_program* p : {skel->progs.pal_exec_lsm, skel->progs.pal_file_lsm,
                             skel->progs.pal_conn_lsm}) {
        bpf_link* l = bpf_program__attach(p);
        check_link(l, bpf_program__name(p));
        links.push_back(l);
        link_names.push_back(bpf_program__name(p));
      }
    } else {
      bpf_link* l = bpf_program__attach(skel->progs.pal_exec_tp);
      check_link(l, "pal_exec_tp");
      links.push_back(l);
      link_names.push_back("pal_exec_tp");
      int cg = open(opts.cgroup_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (cg < 0)
        throw std::runtime_error("cgroupRoot " + opts.cgroup_root + ": " + errno_text(errno));
      for (bpf_program* p : {skel->progs.pal_conn4, skel->progs.pal_conn6}) {
        // attach_cgroup, not attach: libbpf 1.1's generic attach refuses cgroup programs.
        bpf_link* cl = bpf_program__attach_cgroup(p, cg);
        int saved = errno;
        if (!cl) {
          close(cg);
          errno = saved;
        }
        check_link(cl, bpf_program__name(p));
        links.push_back(cl);
        link_names.push_back(bpf_program__name(p));
      }
      close(cg);
    }

    ensure_pin_dir(opts.pin_dir);
    try {
      bpf_map* map;
      bpf_object__for_each_map(map, skel->obj) {
        const char* name = bpf_map__name(map);
        if (strncmp(name, "pal_", 4) != 0) continue;
        if (bpf_map__pin(map, join(opts.pin_dir, name).c_str()))
          throw std::runtime_error(std::string("pinning map ") + name + ": " + errno_text(errno));
      }
      for (size_t i = 0; i < links.size(); i++) {
        std::string path = join(opts.pin_dir, "link_" + link_names[i]);
        if (bpf_link__pin(links[i], path.c_str()))
          throw std::runtime_error("pinning link " + link_names[i] + ": " + errno_text(errno));
        std::string ppath = join(opts.pin_dir, "prog_" + link_names[i]);
        bpf_program* p = bpf_object__find_program_by_name(skel->obj, link_names[i].c_str());
        if (p && bpf_program__pin(p, ppath.c_str()))
          throw std::runtime_error("pinning program " + link_names[i] + ": " + errno_text(errno));
      }
    } catch (...) {
      remove_pins(opts.pin_dir);
      throw;
    }
    // The pins keep everything attached; our own descriptors can go (destroying an fd-based link
    // only closes its descriptor, the pinned kernel link stays).
    cleanup();
  } catch (...) {
    cleanup();
    throw;
  }
}

bool pins_complete(const std::string& dir) {
  for (const char* m : kMapNames)
    if (!exists(join(dir, m))) return false;
  int fd = bpf_obj_get(join(dir, "pal_config").c_str());
  if (fd < 0) return false;
  MapFds fds;
  fds.config = fd;
  pal_config cfg{};
  try {
    cfg = read_config(fds);
  } catch (...) {
    close(fd);
    return false;
  }
  close(fd);
  const char* const* progs = cfg.backend == kBackendLsm ? kLsmProgs : kFallbackProgs;
  for (int i = 0; i < 3; i++)
    if (!exists(join(dir, std::string("link_") + progs[i]))) return false;
  return true;
}

// --- input parsing: everything is checked before any map is touched ---

[[noreturn]] void bad(Napi::Env env, const std::string& where, const std::string& msg) {
  throw Napi::TypeError::New(env, "invalid policy generation: " + where + ": " + msg);
}

Napi::Value field(Napi::Env env, const Napi::Object& obj, const char* name, const std::string& where) {
  if (!obj.Has(name)) bad(env, where, std::string("missing ") + name);
  return obj.Get(name);
}

uint64_t get_u64(Napi::Env env, const Napi::Value& v, const std::string& where, uint64_t max) {
  if (!v.IsBigInt()) bad(env, where, "expected a bigint");
  bool lossless = false;
  uint64_t x = v.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) bad(env, where, "out of range (must be a non-negative 64-bit integer)");
  if (x > max) bad(env, where, "out of range (max " + std::to_string(max) + ")");
  return x;
}

int64_t get_int(Napi::Env env, const Napi::Value& v, const std::string& where, int64_t min, int64_t max) {
  if (!v.IsNumber()) bad(env, where, "expected a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max)) || d != static_cast<double>(static_cast<int64_t>(d)))
    bad(env, where, "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return static_cast<int64_t>(d);
}

std::string get_string(Napi::Env env, const Napi::Value& v, const std::string& where) {
  if (!v.IsString()) bad(env, where, "expected a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Array get_array(Napi::Env env, const Napi::Value& v, const std::string& where) {
  if (!v.IsArray()) bad(env, where, "expected an array");
  return v.As<Napi::Array>();
}

Napi::Object get_object(Napi::Env env, const Napi::Value& v, const std::string& where) {
  if (!v.IsObject() || v.IsArray()) bad(env, where, "expected an object");
  return v.As<Napi::Object>();
}

uint8_t parse_mode(Napi::Env env, const std::string& s, const std::string& where) {
  if (s == "discover") return PAL_MODE_DISCOVER;
  if (s == "monitor") return PAL_MODE_MONITOR;
  if (s == "protect") return PAL_MODE_PROTECT;
  bad(env, where, "unknown mode '" + s + "' (discover, monitor or protect)");
}

FileEntry parse_file_id(Napi::Env env, const Napi::Object& o, uint64_t cgroup, const std::string& where) {
  FileEntry f{};
  f.cgroup_id = cgroup;
  f.dev = static_cast<uint32_t>(get_u64(env, field(env, o, "dev", where), where + ".dev", UINT32_MAX));
  f.ino = get_u64(env, field(env, o, "ino", where), where + ".ino", UINT64_MAX);
  return f;
}

Generation parse_generation(Napi::Env env, const Napi::Value& input) {
  Generation gen;
  Napi::Object g = get_object(env, input, "generation object");
  gen.generation = static_cast<uint64_t>(
      get_int(env, field(env, g, "generation", "generation"), "generation", 1, 9007199254740991LL));
  Napi::Array containers = get_array(env, field(env, g, "containers", "generation"), "containers");
  std::vector<uint64_t> seen;
  for (uint32_t i = 0; i < containers.Length(); i++) {
    std::string w = "containers[" + std::to_string(i) + "]";
    Napi::Object c = get_object(env, containers.Get(i), w);
    ContainerEntry ce{};
    ce.cgroup_id = get_u64(env, field(env, c, "cgroupId", w), w + ".cgroupId", UINT64_MAX);
    if (ce.cgroup_id == 0) bad(env, w + ".cgroupId", "must not be 0");
    for (uint64_t s : seen)
      if (s == ce.cgroup_id) bad(env, w + ".cgroupId", "duplicate container " + std::to_string(s));
    seen.push_back(ce.cgroup_id);
    Napi::Object modes = get_object(env, field(env, c, "modes", w), w + ".modes");
    const char* kinds[] = {"process", "file", "network"};
    for (int k = 0; k < 3; k++) {
      std::string wk = w + ".modes." + kinds[k];
      ce.mode[k] = parse_mode(env, get_string(env, field(env, modes, kinds[k], wk), wk), wk);
    }
    // rootDev: kernel dev of the root filesystem (filled by the TS wrapper from rootPath).
    if (c.Has("rootDev") && !c.Get("rootDev").IsUndefined())
      ce.root_dev = static_cast<uint32_t>(get_u64(env, c.Get("rootDev"), w + ".rootDev", UINT32_MAX));
    gen.containers.push_back(ce);

    Napi::Array exec = get_array(env, field(env, c, "execAllow", w), w + ".execAllow");
    for (uint32_t j = 0; j < exec.Length(); j++) {
      std::string we = w + ".execAllow[" + std::to_string(j) + "]";
      gen.exec_allow.push_back(parse_file_id(env, get_object(env, exec.Get(j), we), ce.cgroup_id, we));
    }
    Napi::Array prot = get_array(env, field(env, c, "fileProtect", w), w + ".fileProtect");
    for (uint32_t j = 0; j < prot.Length(); j++) {
      std::string wp = w + ".fileProtect[" + std::to_string(j) + "]";
      Napi::Object p = get_object(env, prot.Get(j), wp);
      ProtectEntry pe{};
      pe.id = parse_file_id(env, get_object(env, field(env, p, "id", wp), wp + ".id"), ce.cgroup_id, wp + ".id");
      Napi::Value dir = field(env, p, "dir", wp);
      if (!dir.IsBoolean()) bad(env, wp + ".dir", "expected a boolean");
      pe.dir = dir.As<Napi::Boolean>().Value();
      if (p.Has("namePrefix") && !p.Get("namePrefix").IsUndefined()) {
        pe.prefix = get_string(env, p.Get("namePrefix"), wp + ".namePrefix");
        if (pe.prefix.size() > PAL_NAME_PREFIX_LEN - 1)
          bad(env, wp + ".namePrefix", "longer than " + std::to_string(PAL_NAME_PREFIX_LEN - 1) + " bytes");
        if (!pe.dir) bad(env, wp + ".namePrefix", "only valid for a directory");
      }
      gen.file_protect.push_back(pe);
    }
    Napi::Array net = get_array(env, field(env, c, "netAllow", w), w + ".netAllow");
    for (uint32_t j = 0; j < net.Length(); j++) {
      std::string wn = w + ".netAllow[" + std::to_string(j) + "]";
      Napi::Object n = get_object(env, net.Get(j), wn);
      NetEntry ne{};
      ne.cgroup_id = ce.cgroup_id;
      int64_t family = get_int(env, field(env, n, "family", wn), wn + ".family", 4, 6);
      if (family != 4 && family != 6) bad(env, wn + ".family", "must be 4 or 6");
      ne.family = static_cast<uint8_t>(family);
      std::string addr = get_string(env, field(env, n, "addr", wn), wn + ".addr");
      if (inet_pton(family == 4 ? AF_INET : AF_INET6, addr.c_str(), ne.addr) != 1)
        bad(env, wn + ".addr", "'" + addr + "' is not an IPv" + std::to_string(family) + " address");
      int64_t bits = family == 4 ? 32 : 128;
      ne.prefix_len = static_cast<uint8_t>(get_int(env, field(env, n, "prefixLen", wn), wn + ".prefixLen", 0, bits));
      // Host bits must be zero, or the trie entry would never match what the rule says.
      for (int b = ne.prefix_len; b < bits; b++)
        if (ne.addr[b / 8] & (0x80 >> (b % 8)))
          bad(env, wn, addr + "/" + std::to_string(ne.prefix_len) + " has host bits set");
      ne.port = static_cast<uint16_t>(get_int(env, field(env, n, "port", wn), wn + ".port", 0, 65535));
      std::string proto = get_string(env, field(env, n, "protocol", wn), wn + ".protocol");
      if (proto == "tcp") ne.proto = PAL_PROTO_TCP;
      else if (proto == "udp") ne.proto = PAL_PROTO_UDP;
      else if (proto == "any") ne.proto = PAL_PROTO_ANY;
      else bad(env, wn + ".protocol", "unknown protocol '" + proto + "' (tcp, udp or any)");
      gen.net_allow.push_back(ne);
    }
  }
  if (gen.containers.size() > PAL_MAX_CONTAINERS) bad(env, "containers", "more than " + std::to_string(PAL_MAX_CONTAINERS));
  if (gen.exec_allow.size() > PAL_MAX_EXEC_ALLOW) bad(env, "execAllow", "more than " + std::to_string(PAL_MAX_EXEC_ALLOW) + " in total");
  if (gen.file_protect.size() > PAL_MAX_FILE_PROTECT) bad(env, "fileProtect", "more than " + std::to_string(PAL_MAX_FILE_PROTECT) + " in total");
  if (gen.net_allow.size() > PAL_MAX_NET_ALLOW) bad(env, "netAllow", "more than " + std::to_string(PAL_MAX_NET_ALLOW) + " in total");
  return gen;
}

// --- events ---

// Byte layout of struct pal_event, for the JS decoder.
Napi::Object event_layout(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* k, size_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
  set("size", sizeof(pal_event));
  set("timeNs", offsetof(pal_event, time_ns));
  set("cgroupId", offsetof(pal_event, cgroup_id));
  set("ino", offsetof(pal_event, ino));
  set("dev", offsetof(pal_event, dev));
  set("pid", offsetof(pal_event, pid));
  set("flags", offsetof(pal_event, flags));
  set("kind", offsetof(pal_event, kind));
  set("action", offsetof(pal_event, action));
  set("mechanism", offsetof(pal_event, mechanism));
  set("family", offsetof(pal_event, family));
  set("proto", offsetof(pal_event, proto));
  set("dport", offsetof(pal_event, dport));
  set("daddr", offsetof(pal_event, daddr));
  set("comm", offsetof(pal_event, comm));
  set("commLen", sizeof(pal_event::comm));
  set("path", offsetof(pal_event, path));
  set("pathLen", sizeof(pal_event::path));
  return o;
}

using Batch = std::vector<pal_event>;

}  // namespace

Napi::Object EventLayout(Napi::Env env) { return event_layout(env); }

Napi::Function BpfEnforcer::Define(Napi::Env env) {
  libbpf_set_print(capture_libbpf);
  return DefineClass(env, "BpfEnforcer",
                     {InstanceMethod("applyGeneration", &BpfEnforcer::ApplyGeneration),
                      InstanceMethod("status", &BpfEnforcer::Status),
                      InstanceMethod("close", &BpfEnforcer::Close)});
}

// new BpfEnforcer({pinDir, cgroupRoot, backend, ringBufferBytes?, queueSize?, batchSize?}, onBatch)
BpfEnforcer::BpfEnforcer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfEnforcer>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
    throw Napi::TypeError::New(env, "BpfEnforcer(options, onBatch)");
  Napi::Object o = info[0].As<Napi::Object>();
  auto str = [&](const char* name) -> std::string {
    Napi::Value v = o.Get(name);
    if (!v.IsString()) throw Napi::TypeError::New(env, std::string("options.") + name + ": expected a string");
    return v.As<Napi::String>().Utf8Value();
  };
  auto num = [&](const char* name, uint32_t dflt) -> uint32_t {
    Napi::Value v = o.Get(name);
    if (v.IsUndefined()) return dflt;
    if (!v.IsNumber() || v.As<Napi::Number>().DoubleValue() < 1)
      throw Napi::TypeError::New(env, std::string("options.") + name + ": expected a positive number");
    return v.As<Napi::Number>().Uint32Value();
  };
  LoadOptions opts;
  opts.pin_dir = str("pinDir");
  while (opts.pin_dir.size() > 1 && opts.pin_dir.back() == '/') opts.pin_dir.pop_back();
  opts.cgroup_root = str("cgroupRoot");
  opts.ringbuf_bytes = num("ringBufferBytes", PAL_DEFAULT_RINGBUF_BYTES);
  uint32_t page = static_cast<uint32_t>(sysconf(_SC_PAGESIZE));
  if (opts.ringbuf_bytes < page || (opts.ringbuf_bytes & (opts.ringbuf_bytes - 1)))
    throw Napi::TypeError::New(env, "options.ringBufferBytes: must be a power of two >= the page size");
  uint32_t queue_size = num("queueSize", 16);
  batch_max_ = num("batchSize", 4096);
  max_pending_ = num("maxPendingEvents", 32768);
  if (max_pending_ < batch_max_) max_pending_ = batch_max_;
  std::string want = str("backend");
  if (want != "auto" && want != "bpf-lsm" && want != "fallback")
    throw Napi::TypeError::New(env, "options.backend: 'auto', 'bpf-lsm' or 'fallback'");
  pin_dir_ = opts.pin_dir;

  try {
    if (pins_complete(pin_dir_)) {
      reason_ = "re-adopted the programs pinned at " + pin_dir_;
    } else {
      remove_pins(pin_dir_);  // leftovers of an interrupted install enforce nothing reliably
      std::string lsm_refusal;
      if (want != "fallback") {
        try {
          install(true, opts);
          reason_ = "bpf-lsm: programs loaded and attached";
        } catch (const std::exception& e) {
          if (want == "bpf-lsm") throw std::runtime_error(std::string("bpf-lsm: ") + e.what());
          lsm_refusal = e.what();
        }
      }
      if (reason_.empty()) {
        install(false, opts);
        reason_ = want == "fallback" ? "fallback: requested"
                                     : "bpf-lsm: " + lsm_refusal + "; using fallback";
      }
    }
    Adopt();
    if (want != "auto" && want != backend_) {
      CloseFds();
      throw std::runtime_error("programs pinned at " + pin_dir_ + " are the " + backend_ +
                               " back-end, not " + want + "; uninstall them first");
    }
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("palisade bpf: ") + e.what());
  }
  StartPolling(env, info[1].As<Napi::Function>(), queue_size);
#ifdef __GLIBC__
  // Loading parsed the kernel's BTF (megabytes) and freed it; hand those pages back to the system
  // rather than keeping them in the allocator for the agent's lifetime.
  malloc_trim(0);
#endif
}

BpfEnforcer::~BpfEnforcer() {
  if (cleanup_env_) napi_remove_env_cleanup_hook(cleanup_env_, &BpfEnforcer::OnEnvCleanup, this);
  StopPolling();
  CloseFds();
}

void BpfEnforcer::Adopt() {
  int* slots[] = {&fds_.config,    &fds_.containers, &fds_.exec_allow, &fds_.file_prot,
                  &fds_.net_allow, &fds_.events,     &fds_.counters};
  for (int i = 0; i < 7; i++) {
    *slots[i] = bpf_obj_get(join(pin_dir_, kMapNames[i]).c_str());
    if (*slots[i] < 0) {
      int err = errno;
      CloseFds();
      throw std::runtime_error(std::string("opening pinned map ") + kMapNames[i] + ": " + errno_text(err));
    }
  }
  for (int i = 0; i < 7; i++) {
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(*slots[i], &info, &len) != 0 || info.key_size != kMapKeySizes[i] ||
        info.value_size != kMapValueSizes[i]) {
      CloseFds();
      throw std::runtime_error(std::string("pinned map ") + kMapNames[i] + " in " + pin_dir_ +
                               " does not match this build (key/value size); uninstall the pins first");
    }
  }
  backend_ = read_config(fds_).backend == kBackendLsm ? "bpf-lsm" : "fallback";
}

void BpfEnforcer::CloseFds() {
  int* slots[] = {&fds_.config,    &fds_.containers, &fds_.exec_allow, &fds_.file_prot,
                  &fds_.net_allow, &fds_.events,     &fds_.counters};
  for (int* fd : slots) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

void BpfEnforcer::StartPolling(Napi::Env env, Napi::Function callback, uint32_t queue_size) {
  rb_ = ring_buffer__new(fds_.events, &BpfEnforcer::OnRingEvent, this, nullptr);
  if (!rb_) {
    int err = errno;
    CloseFds();
    throw Napi::Error::New(env, "palisade bpf: ring buffer: " + errno_text(err));
  }
  tsfn_ = Napi::ThreadSafeFunction::New(env, callback, "palisade-bpf-events", queue_size, 1);
  tsfn_.Unref(env);  // enforcement lives in the kernel; the poller must not keep node alive
  stop_ = false;
  poller_ = std::thread([this]() {
    while (!stop_.load(std::memory_order_relaxed)) {
      int n = ring_buffer__poll(rb_, pending_.empty() ? 100 : 5);
      if (n < 0 && n != -EINTR) break;
      Flush();
    }
  });
  napi_add_env_cleanup_hook(env, &BpfEnforcer::OnEnvCleanup, this);
  cleanup_env_ = env;
}

void BpfEnforcer::OnEnvCleanup(void* arg) {
  auto* self = static_cast<BpfEnforcer*>(arg);
  self->cleanup_env_ = nullptr;
  self->StopPolling();
  self->CloseFds();
}

int BpfEnforcer::OnRingEvent(void* ctx, void* data, size_t size) {
  auto* self = static_cast<BpfEnforcer*>(ctx);
  if (size < sizeof(pal_event)) return 0;
  if (self->pending_.size() >= self->max_pending_) {
    self->Flush();
    if (self->pending_.size() >= self->max_pending_) {
      self->counters_->user_drops += 1;  // JS is too far behind: count, never stall the kernel side
      return 0;
    }
  }
  self->pending_.push_back(*static_cast<const pal_event*>(data));
  if (self->pending_.size() >= self->batch_max_) self->Flush();
  return 0;
}

// Hands the pending events to the JS thread. While earlier batches are still waiting there, the
// pending batch keeps growing instead, so a busy JS thread gets fewer, larger batches.
void BpfEnforcer::Flush() {
  if (pending_.empty()) return;
  if (counters_->inflight.load() >= 2 && pending_.size() < batch_max_) return;
  auto* batch = new Batch(std::move(pending_));
  pending_ = Batch();
  pending_.reserve(256);
  std::shared_ptr<EventCounters> counters = counters_;
  counters->inflight += 1;
  napi_status s = tsfn_.NonBlockingCall(batch, [counters](Napi::Env env, Napi::Function cb, Batch* b) {
    std::unique_ptr<Batch> owned(b);
    counters->inflight -= 1;
    if (!env) return;
    // Raw records, decoded in JS (layout from eventLayout): far cheaper than building objects here.
    size_t bytes = owned->size() * sizeof(pal_event);
    Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(owned->data()), bytes);
    counters->delivered += owned->size();
    cb.Call({buf});
  });
  if (s != napi_ok) {
    counters->inflight -= 1;
    if (s == napi_queue_full && batch->size() < max_pending_) {
      pending_ = std::move(*batch);  // retry on the next flush
    } else {
      counters_->user_drops += batch->size();  // closing, or nothing can be held any longer
    }
    delete batch;
  }
}

void BpfEnforcer::StopPolling() {
  if (!rb_) return;
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  ring_buffer__free(rb_);
  rb_ = nullptr;
  tsfn_.Release();
}

Napi::Value BpfEnforcer::ApplyGeneration(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) throw Napi::Error::New(env, "palisade bpf: enforcer is closed");
  Generation gen = parse_generation(env, info[0]);
  try {
    apply_generation(fds_, gen);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("palisade bpf: generation rejected: ") + e.what());
  }
  return env.Undefined();
}

Napi::Value BpfEnforcer::Status(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("backend", backend_);
  o.Set("reason", reason_);
  if (!closed_) {
    try {
      last_generation_ = read_config(fds_).generation;
    } catch (...) {
    }
    last_kernel_drops_ = read_counter(fds_, PAL_CNT_RINGBUF_DROPS);
  }
  uint64_t generation = last_generation_, kernel_drops = last_kernel_drops_;
  o.Set("generation", Napi::Number::New(env, static_cast<double>(generation)));
  o.Set("events", Napi::Number::New(env, static_cast<double>(counters_->delivered.load())));
  o.Set("kernelDrops", Napi::Number::New(env, static_cast<double>(kernel_drops)));
  o.Set("userDrops", Napi::Number::New(env, static_cast<double>(counters_->user_drops.load())));
  o.Set("pinDir", pin_dir_);
  return o;
}

Napi::Value BpfEnforcer::Close(const Napi::CallbackInfo& info) {
  // Stops event delivery only; the pinned programs keep enforcing.
  if (!closed_) {
    try {
      last_generation_ = read_config(fds_).generation;
    } catch (...) {
    }
    last_kernel_drops_ = read_counter(fds_, PAL_CNT_RINGBUF_DROPS);
  }
  StopPolling();
  CloseFds();
  closed_ = true;
  return info.Env().Undefined();
}

Napi::Value Uninstall(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "uninstall(pinDir)");
  std::string dir = info[0].As<Napi::String>().Utf8Value();
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return Napi::Boolean::New(env, remove_pins(dir) > 0);
}

}  // namespace palisade
