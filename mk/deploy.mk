# Deployment checks and the SAM build (template.yaml, samconfig.toml). Included by the root Makefile, which
# defines VENV := .venv, PY := $(VENV)/bin/python and the `venv` target, and puts $(VENV)/bin first on PATH.
# Everything here works offline and without AWS credentials: a region is all the SAM CLI needs.

SAM_REGION ?= us-east-1
SAM_ENV := AWS_REGION=$(SAM_REGION) AWS_DEFAULT_REGION=$(SAM_REGION) SAM_CLI_TELEMETRY=0 \
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH"

.PHONY: deploy-check sam-compile sam-build dist dist-check

# The template: SAM's own validation with cfn-lint, cfn-lint with the serverless rules (waivers, each with its
# reason, in .cfnlintrc), then tools/check_template.py: first its self-tests (each rule fails a template broken
# on purpose), then the real template (IAM least privilege, dead-letter destinations, reserved concurrency,
# environment variables against the settings contract docs/settings.json, alarms, dashboard). The drills' AWS FIS
# experiment templates (drills/, docs/drills.md) and the recommended alarms (alarms/template.yaml) go through
# cfn-lint too, and tools/check_alarms.py checks that the stack's rules route each of those alarms; then the packaging scripts' tests, and
# tools/check_docs.py: every command in README.md and docs/*.md against the Makefile, samconfig.toml, the
# template, the settings and the AWS CLI's models. Any error or warning fails the target.
deploy-check: venv
	$(SAM_ENV) sam validate --lint --region $(SAM_REGION)
	$(SAM_ENV) cfn-lint template.yaml -a cfn_lint_serverless.rules
	$(SAM_ENV) cfn-lint drills/*.yaml alarms/template.yaml
	$(SAM_ENV) $(PY) tools/check_template.py --self-test
	$(SAM_ENV) $(PY) tools/check_template.py
	$(SAM_ENV) $(PY) tools/check_alarms.py --self-test
	$(SAM_ENV) $(PY) tools/check_alarms.py
	$(SAM_ENV) $(PY) -m unittest tools/test_packaging.py
	$(PY) tools/check_docs.py --self-test
	$(PY) tools/check_docs.py

# `sam build` of both functions for arm64, checked: one bootstrap per function, for the right architecture.
# Without the aarch64 standard library it fails, names the fix and leaves no artifacts (tools/sam_build.sh).
sam-build: venv
	$(SAM_ENV) VENV=$(VENV) tools/sam_build.sh

# Only the cargo build that sam-build starts with: what tools/gate.sh runs in the background, ahead of sam-build.
sam-compile: venv
	$(SAM_ENV) VENV=$(VENV) tools/sam_build.sh --compile-only

# dist/: the arm64 bootstraps as zips and a template whose CodeUris point at them, deployable with only the SAM
# CLI (`sam deploy -t dist/template.yaml --guided`); tools/dist.py says what else it holds.
dist: sam-build
	$(PY) tools/dist.py

# Unpacks dist/: every CodeUri a zip holding an aarch64 executable bootstrap, and `sam validate --lint` passes.
dist-check: dist
	$(SAM_ENV) $(PY) tools/dist.py --check
