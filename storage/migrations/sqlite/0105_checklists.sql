-- Onboarding and offboarding checklists: one open checklist per person and
-- kind, and one item per step of its template, keyed by the step so that
-- running a checklist again resumes it and never does a step twice.
CREATE TABLE `checklists` (`id` integer PRIMARY KEY AUTOINCREMENT,`kind` text NOT NULL,`person` text NOT NULL,`template` text NOT NULL,`starts_on` datetime NOT NULL,`requested_by` text NOT NULL,`state` text NOT NULL,`created_at` datetime NOT NULL,`updated_at` datetime NOT NULL);
CREATE UNIQUE INDEX `idx_checklists_open` ON `checklists`(`kind`,`person`) WHERE `state` = 'open';
CREATE INDEX `idx_checklists_state` ON `checklists`(`state`,`starts_on`);
CREATE TABLE `checklist_items` (`id` integer PRIMARY KEY AUTOINCREMENT,`checklist_id` integer NOT NULL,`step` text NOT NULL,`kind` text NOT NULL,`label` text NOT NULL,`state` text NOT NULL,`ref` text,`detail` text,`attempts` integer NOT NULL DEFAULT 0,`lease_until` datetime,`updated_at` datetime NOT NULL);
CREATE UNIQUE INDEX `idx_checklist_items_step` ON `checklist_items`(`checklist_id`,`step`);
