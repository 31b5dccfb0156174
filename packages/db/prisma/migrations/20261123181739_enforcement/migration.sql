-- AlterTable
ALTER TABLE "events" ADD COLUMN     "container_id" TEXT;

-- AlterTable
ALTER TABLE "nodes" ADD COLUMN     "enforcement" JSONB;

-- CreateIndex
CREATE INDEX "events_node_id_container_id_at_idx" ON "events"("node_id", "container_id", "at");
