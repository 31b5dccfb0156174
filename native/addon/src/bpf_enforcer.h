// The JS-facing BPF enforcer: loads or re-adopts the pinned programs, applies generations and
// streams ring-buffer events to JS from a worker thread.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bpf_maps.h"

struct ring_buffer;

namespace palisade {

// Counters shared with the thread-safe function, which can outlive the enforcer object.
struct EventCounters {
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> user_drops{0};
  std::atomic<uint32_t> inflight{0};  // batches handed to the JS thread and not yet processed
};

class BpfEnforcer : public Napi::ObjectWrap<BpfEnforcer> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit BpfEnforcer(const Napi::CallbackInfo& info);
  ~BpfEnforcer() override;

 private:
  Napi::Value ApplyGeneration(const Napi::CallbackInfo& info);
  Napi::Value Status(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  void Adopt();
  void StartPolling(Napi::Env env, Napi::Function callback, uint32_t queue_size);
  void StopPolling();
  void CloseFds();
  static void OnEnvCleanup(void* arg);
  static int OnRingEvent(void* ctx, void* data, size_t size);
  void Flush();

  std::string pin_dir_;
  std::string backend_;
  std::string reason_;
  uint32_t batch_max_ = 4096;
  uint32_t max_pending_ = 32768;
  MapFds fds_;
  ring_buffer* rb_ = nullptr;
  std::thread poller_;
  std::atomic<bool> stop_{false};
  bool closed_ = false;
  uint64_t last_generation_ = 0;  // status() after close() reports the last values seen
  uint64_t last_kernel_drops_ = 0;
  std::vector<pal_event> pending_;  // poller thread only
  std::shared_ptr<EventCounters> counters_ = std::make_shared<EventCounters>();
  Napi::ThreadSafeFunction tsfn_;
  napi_env cleanup_env_ = nullptr;
};

// uninstall(pinDir): detach and remove every link, program and map pin of ours. Returns whether
// anything was there.
Napi::Value Uninstall(const Napi::CallbackInfo& info);

// Offsets of the fields of struct pal_event in the event buffers handed to JS.
Napi::Object EventLayout(Napi::Env env);

}  // namespace palisade
