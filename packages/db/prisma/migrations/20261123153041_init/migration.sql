-- CreateTable
CREATE TABLE "nodes" (
    "id" TEXT NOT NULL,
    "cluster" TEXT NOT NULL,
    "hostname" TEXT NOT NULL,
    "kernel" TEXT NOT NULL,
    "arch" TEXT NOT NULL,
    "os_id" TEXT NOT NULL,
    "os_name" TEXT NOT NULL,
    "os_version" TEXT NOT NULL,
    "agent_version" TEXT NOT NULL,
    "runtime_name" TEXT,
    "runtime_socket" TEXT,
    "runtime_version" TEXT,
    "runtime_error" TEXT,
    "cpus" INTEGER,
    "memory_bytes" BIGINT,
    "status" TEXT NOT NULL DEFAULT 'online',
    "enrolled_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_heartbeat_at" TIMESTAMPTZ(3),
    "status_changed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "nodes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "workloads" (
    "id" TEXT NOT NULL,
    "cluster" TEXT NOT NULL,
    "node_id" TEXT NOT NULL,
    "container_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "image" TEXT NOT NULL,
    "runtime_namespace" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "pid" INTEGER,
    "labels" JSONB NOT NULL DEFAULT '{}',
    "k8s_namespace" TEXT,
    "k8s_pod" TEXT,
    "k8s_container" TEXT,
    "created_at" TIMESTAMPTZ(3),
    "first_seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL,
    "removed_at" TIMESTAMPTZ(3),

    CONSTRAINT "workloads_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "events" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "cluster" TEXT NOT NULL,
    "node_id" TEXT,
    "type" TEXT NOT NULL,
    "severity" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "data" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_logs" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor_id" TEXT NOT NULL,
    "actor_name" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "cluster" TEXT,
    "object" TEXT NOT NULL,
    "result" TEXT NOT NULL,
    "details" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "audit_logs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "nodes_cluster_hostname_idx" ON "nodes"("cluster", "hostname");

-- CreateIndex
CREATE INDEX "nodes_status_last_heartbeat_at_idx" ON "nodes"("status", "last_heartbeat_at");

-- CreateIndex
CREATE INDEX "workloads_cluster_idx" ON "workloads"("cluster");

-- CreateIndex
CREATE UNIQUE INDEX "workloads_node_id_container_id_key" ON "workloads"("node_id", "container_id");

-- CreateIndex
CREATE INDEX "events_cluster_at_idx" ON "events"("cluster", "at");

-- CreateIndex
CREATE INDEX "events_type_at_idx" ON "events"("type", "at");

-- CreateIndex
CREATE INDEX "audit_logs_at_idx" ON "audit_logs"("at");

-- CreateIndex
CREATE INDEX "audit_logs_cluster_at_idx" ON "audit_logs"("cluster", "at");

-- AddForeignKey
ALTER TABLE "workloads" ADD CONSTRAINT "workloads_node_id_fkey" FOREIGN KEY ("node_id") REFERENCES "nodes"("id") ON DELETE CASCADE ON UPDATE CASCADE;
