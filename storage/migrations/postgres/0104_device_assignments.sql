-- Devices handed to people: one row per check-out; the row whose
-- returned_at is NULL names the current holder, and at most one such row
-- exists per device. Returned rows are the device's history.
CREATE TABLE device_assignments (
    id bigserial PRIMARY KEY,
    device character varying(128) NOT NULL,
    holder character varying(128) NOT NULL,
    assigned_by character varying(128) NOT NULL,
    assigned_at timestamp with time zone NOT NULL,
    returned_at timestamp with time zone,
    returned_by character varying(128),
    return_condition character varying(16)
);
CREATE UNIQUE INDEX idx_device_assignments_held ON device_assignments USING btree (device) WHERE returned_at IS NULL;
CREATE INDEX idx_device_assignments_holder ON device_assignments USING btree (holder, returned_at);
CREATE INDEX idx_device_assignments_device ON device_assignments USING btree (device, id);
