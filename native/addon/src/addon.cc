// Module entry of palisade_bpf.node.
#include <napi.h>

#include "bpf_enforcer.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("BpfEnforcer", palisade::BpfEnforcer::Define(env));
  exports.Set("eventLayout", palisade::EventLayout(env));
  exports.Set("uninstall", Napi::Function::New(env, palisade::Uninstall, "uninstall"));
  return exports;
}

}  // namespace

NODE_API_MODULE(palisade_bpf, Init)
