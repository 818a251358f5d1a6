# Alorig platform: the two commands a newcomer runs are `make up` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        ?= .venv
PY          := $(VENV)/bin/python
BIN         := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export ANSIBLE_CONFIG := $(abspath ansible.cfg)
LOCAL_INV   := inventories/local/hosts.yml
VAULT_PASS  := inventories/local/vault-password.txt
LOCAL_VPS   := alorig-local-vps
CF_PORT     ?= 8788

.PHONY: help venv docker images up down converge lint unit harness-test molecule test bench-dns bench-site bench-backup bench-celery bench-monitoring

help:
	@echo "make up      bring the whole platform up locally (local VPS and backup host containers + local Cloudflare API)"
	@echo "make test    run every check: yamllint, ansible-lint, pytest, harness tests, molecule (in two lanes at once)"
	@echo "make down    remove the local platform"
	@echo "make bench-site / bench-dns / bench-backup / bench-celery / bench-monitoring   benchmarks (figures printed, never asserted)"

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed

docker:
	bash harness/docker-up.sh

images: docker venv
	bash harness/build-images.sh
	bash harness/save-images.sh

up: images
	bash harness/local-platform.sh up
	$(BIN)/ansible-playbook -i $(LOCAL_INV) --vault-password-file $(VAULT_PASS) site.yml

converge: venv
	$(BIN)/ansible-playbook -i $(LOCAL_INV) --vault-password-file $(VAULT_PASS) site.yml

down:
	bash harness/local-platform.sh down

lint: venv
	bash harness/checks.sh lint

unit: venv
	bash harness/checks.sh unit

harness-test: images
	bash harness/checks.sh harness

molecule: images
	bash harness/checks.sh molecule-default
	bash harness/checks.sh molecule-infra
	bash harness/checks.sh molecule-migration
	bash harness/checks.sh molecule-apps

# Every check, in two lanes at once (harness/checks.sh says which and why).
test:
	bash harness/checks.sh all

bench-dns: venv
	$(BIN)/python bench/dns_bench.py

bench-site: images
	bash bench/site_bench.sh

bench-backup: images
	bash bench/backup_bench.sh

bench-celery: images
	bash bench/celery_bench.sh

bench-monitoring: venv
	bash bench/monitoring_bench.sh
