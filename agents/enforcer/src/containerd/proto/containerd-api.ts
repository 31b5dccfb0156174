/**
 * The subset of containerd's gRPC API that the enforcer uses, as .proto source text.
 *
 * Embedded in a TypeScript module (rather than shipped as .proto files) so that it ends up in
 * `dist/` through the normal `tsc` build and needs no file lookup at runtime.
 *
 * Only the messages and fields we read are declared; protobuf skips fields it does not know, so
 * leaving fields out is safe. Field numbers, names, packages and service/method names MUST match
 * containerd's API exactly:
 *   - github.com/containerd/containerd/api/services/version/v1/version.proto
 *   - github.com/containerd/containerd/api/services/namespaces/v1/namespace.proto
 *   - github.com/containerd/containerd/api/services/containers/v1/containers.proto
 *   - github.com/containerd/containerd/api/services/tasks/v1/tasks.proto
 *   - github.com/containerd/containerd/api/types/task/task.proto
 * They were checked against the file descriptors compiled into the containerd 1.6.20 binary and
 * against the containerd main branch sources (2.x); these messages are identical in both
 * (2.x only adds `string sandbox = 11` to Container, which we do not need).
 */

const GOOGLE_PROTOBUF = `
syntax = "proto3";
package google.protobuf;

message Empty {}

message Any {
  string type_url = 1;
  bytes value = 2;
}

message Timestamp {
  int64 seconds = 1;
  int32 nanos = 2;
}
`;

const VERSION_V1 = `
syntax = "proto3";
package containerd.services.version.v1;

service Version {
  rpc Version(google.protobuf.Empty) returns (VersionResponse);
}

message VersionResponse {
  string version = 1;
  string revision = 2;
}
`;

const NAMESPACES_V1 = `
syntax = "proto3";
package containerd.services.namespaces.v1;

service Namespaces {
  rpc List(ListNamespacesRequest) returns (ListNamespacesResponse);
}

message Namespace {
  string name = 1;
  map<string, string> labels = 2;
}

message ListNamespacesRequest {
  string filter = 1;
}

message ListNamespacesResponse {
  repeated Namespace namespaces = 1;
}
`;

const CONTAINERS_V1 = `
syntax = "proto3";
package containerd.services.containers.v1;

service Containers {
  rpc List(ListContainersRequest) returns (ListContainersResponse);
}

message Container {
  string id = 1;
  map<string, string> labels = 2;
  string image = 3;

  message Runtime {
    string name = 1;
    google.protobuf.Any options = 2;
  }
  Runtime runtime = 4;

  // 5: google.protobuf.Any spec — deliberately not declared (large; skipped on decode).
  string snapshotter = 6;
  string snapshot_key = 7;
  google.protobuf.Timestamp created_at = 8;
  google.protobuf.Timestamp updated_at = 9;
  // 10: map<string, google.protobuf.Any> extensions — not needed.
  // 11: string sandbox (containerd 2.x) — not needed.
}

message ListContainersRequest {
  repeated string filters = 1;
}

message ListContainersResponse {
  repeated Container containers = 1;
}
`;

const TASK_TYPES = `
syntax = "proto3";
package containerd.v1.types;

enum Status {
  UNKNOWN = 0;
  CREATED = 1;
  RUNNING = 2;
  STOPPED = 3;
  PAUSED = 4;
  PAUSING = 5;
}

message Process {
  string container_id = 1;
  string id = 2;
  uint32 pid = 3;
  Status status = 4;
  // 5-8: stdin, stdout, stderr, terminal — not needed.
  uint32 exit_status = 9;
  google.protobuf.Timestamp exited_at = 10;
}
`;

const TASKS_V1 = `
syntax = "proto3";
package containerd.services.tasks.v1;

service Tasks {
  rpc List(ListTasksRequest) returns (ListTasksResponse);
}

message ListTasksRequest {
  string filter = 1;
}

message ListTasksResponse {
  repeated containerd.v1.types.Process tasks = 1;
}
`;

/** Proto sources keyed by a file name; parse all of them into one root (no imports needed). */
export const CONTAINERD_PROTO_FILES: Readonly<Record<string, string>> = {
  'google/protobuf/palisade-subset.proto': GOOGLE_PROTOBUF,
  'containerd/services/version/v1/version.proto': VERSION_V1,
  'containerd/services/namespaces/v1/namespace.proto': NAMESPACES_V1,
  'containerd/services/containers/v1/containers.proto': CONTAINERS_V1,
  'containerd/types/task/task.proto': TASK_TYPES,
  'containerd/services/tasks/v1/tasks.proto': TASKS_V1,
};
