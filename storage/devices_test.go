package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"opsbot/storage"
	"opsbot/storage/storagetest"
)

func TestDeviceRepository(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, b)
			empty, err := storage.GetDeviceStamp(ctx, s.DB)
			if err != nil || empty.Count != 0 {
				t.Fatalf("empty stamp %+v %v", empty, err)
			}
			d := storage.Device{Name: "sw-1", Address: "10.0.0.1", Tags: "core,lab", Source: storage.DeviceFromChat, CreatedAt: now, UpdatedAt: now}
			if err := storage.CreateDevice(s.DB, &d); err != nil {
				t.Fatal(err)
			}
			dup := storage.Device{Name: "sw-1", Address: "10.0.0.2", Source: storage.DeviceFromChat}
			if err := storage.CreateDevice(s.DB, &dup); !errors.Is(err, storage.ErrDeviceExists) {
				t.Errorf("duplicate: %v", err)
			}
			st1, _ := storage.GetDeviceStamp(ctx, s.DB)
			d.Address, d.UpdatedAt = "10.0.0.3", now.Add(time.Second)
			if err := storage.UpdateDevice(s.DB, &d); err != nil {
				t.Fatal(err)
			}
			st2, _ := storage.GetDeviceStamp(ctx, s.DB)
			if st1 == st2 || st2.Count != 1 {
				t.Errorf("stamp did not change on update: %+v %+v", st1, st2)
			}
			got, err := storage.GetDevice(ctx, s.DB, "sw-1")
			if err != nil || got.Address != "10.0.0.3" || len(got.TagList()) != 2 || !got.CreatedAt.Equal(now) {
				t.Errorf("get = %+v, %v", got, err)
			}
			if _, err := storage.GetDevice(ctx, s.DB, "nope"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("get missing: %v", err)
			}
			ghost := storage.Device{ID: 999, Name: "ghost"}
			if err := storage.UpdateDevice(s.DB, &ghost); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("update missing: %v", err)
			}
			if err := storage.DeleteDevice(s.DB, "nope"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("delete missing: %v", err)
			}
			added, changed, removed, err := storage.SyncConfigDevices(s.DB, []storage.Device{
				{Name: "sw-1", Address: "10.0.0.9"}, {Name: "rtr-1", Address: "10.0.0.254"}}, now)
			if err != nil || added != 1 || changed != 1 || removed != 0 {
				t.Fatalf("sync: %d %d %d %v", added, changed, removed, err)
			}
			added, changed, removed, err = storage.SyncConfigDevices(s.DB, []storage.Device{{Name: "rtr-1", Address: "10.0.0.254"}}, now)
			if err != nil || added != 0 || changed != 0 || removed != 1 {
				t.Fatalf("resync: %d %d %d %v", added, changed, removed, err)
			}
			all, _ := storage.ListDevices(ctx, s.DB)
			if len(all) != 1 || all[0].Name != "rtr-1" || all[0].Source != storage.DeviceFromConfig {
				t.Errorf("after sync: %+v", all)
			}
		})
	}
}
