"""Test helpers: real servers, real clients, data factories. One timeout for all waits."""

TIMEOUT = 10.0
