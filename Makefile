# The two commands of the README: `make test` passes the tests, `make sandbox` runs the main job against the local
# sandbox. Both work on a fresh Debian machine as root: they install what they need and cache the heavy builds.
.PHONY: deps test test-unit sandbox sandbox-down

deps:
	test/build/install-host-packages
	npm ci --ignore-scripts --no-audit --no-fund

# Everything CI runs: type check, lint, unit tests, the VM scripts on this host (root, Debian packages), system tests
# against real programs, e2e with the real engine.
test: deps
	npm test
	npm run test:host
	npm run test:system
	npm run test:e2e

# The quick loop: no root, no builds, nothing beyond Node.
test-unit:
	npm test

sandbox: deps
	node --import tsx test/sandbox/demo.ts up

sandbox-down:
	node --import tsx test/sandbox/demo.ts down
