-- Devices handed to people: one row per check-out; the row whose
-- returned_at is NULL names the current holder, and at most one such row
-- exists per device. Returned rows are the device's history.
CREATE TABLE `device_assignments` (`id` integer PRIMARY KEY AUTOINCREMENT,`device` text NOT NULL,`holder` text NOT NULL,`assigned_by` text NOT NULL,`assigned_at` datetime NOT NULL,`returned_at` datetime,`returned_by` text,`return_condition` text);
CREATE UNIQUE INDEX `idx_device_assignments_held` ON `device_assignments`(`device`) WHERE `returned_at` IS NULL;
CREATE INDEX `idx_device_assignments_holder` ON `device_assignments`(`holder`,`returned_at`);
CREATE INDEX `idx_device_assignments_device` ON `device_assignments`(`device`,`id`);
