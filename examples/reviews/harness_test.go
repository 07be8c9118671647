package main

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/apptest"
)

const adminPassword = apptest.AdminPassword

func startGatehouse(tb testing.TB) *apptest.Server { return apptest.Start(tb) }
