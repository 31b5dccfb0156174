-- CreateTable
CREATE TABLE "scan_reports" (
    "id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "origin" TEXT NOT NULL,
    "cluster" TEXT,
    "node_id" TEXT,
    "container_id" TEXT,
    "image_ref" TEXT NOT NULL,
    "image_digest" TEXT,
    "os_id" TEXT,
    "os_version" TEXT,
    "package_count" INTEGER NOT NULL,
    "critical" INTEGER NOT NULL DEFAULT 0,
    "high" INTEGER NOT NULL DEFAULT 0,
    "medium" INTEGER NOT NULL DEFAULT 0,
    "low" INTEGER NOT NULL DEFAULT 0,
    "negligible" INTEGER NOT NULL DEFAULT 0,
    "unknown" INTEGER NOT NULL DEFAULT 0,
    "fixable" INTEGER NOT NULL DEFAULT 0,
    "db_sequence" INTEGER NOT NULL,
    "db_built_at" TIMESTAMPTZ(3) NOT NULL,
    "inventory" JSONB NOT NULL,
    "scan_millis" INTEGER NOT NULL,

    CONSTRAINT "scan_reports_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "findings" (
    "id" BIGSERIAL NOT NULL,
    "report_id" TEXT NOT NULL,
    "vulnerability_id" TEXT NOT NULL,
    "aliases" TEXT[],
    "package_name" TEXT NOT NULL,
    "package_version" TEXT NOT NULL,
    "ecosystem" TEXT NOT NULL,
    "purl" TEXT NOT NULL,
    "fixed_version" TEXT,
    "severity" TEXT NOT NULL,
    "cvss_score" DOUBLE PRECISION,
    "cvss_vector" TEXT,
    "source" TEXT NOT NULL,

    CONSTRAINT "findings_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "scan_reports_cluster_created_at_idx" ON "scan_reports"("cluster", "created_at");

-- CreateIndex
CREATE INDEX "scan_reports_image_digest_created_at_idx" ON "scan_reports"("image_digest", "created_at");

-- CreateIndex
CREATE INDEX "scan_reports_image_ref_created_at_idx" ON "scan_reports"("image_ref", "created_at");

-- CreateIndex
CREATE INDEX "scan_reports_node_id_container_id_created_at_idx" ON "scan_reports"("node_id", "container_id", "created_at");

-- CreateIndex
CREATE INDEX "findings_report_id_idx" ON "findings"("report_id");

-- CreateIndex
CREATE INDEX "findings_vulnerability_id_idx" ON "findings"("vulnerability_id");

-- AddForeignKey
ALTER TABLE "findings" ADD CONSTRAINT "findings_report_id_fkey" FOREIGN KEY ("report_id") REFERENCES "scan_reports"("id") ON DELETE CASCADE ON UPDATE CASCADE;
