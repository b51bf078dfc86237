#!/usr/bin/env bash
# Dependencies in src/core point one way (docs/architecture.md): app → broker → op →
# account → upstream, jose, config, ports. Fails, naming the line, when a lower module
# imports a higher one. Run by `make test`.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
# forbid DIR PATTERN WHY: no file under DIR may mention PATTERN.
forbid() {
  local hits
  hits=$(grep -rnE "$2" $1 --include='*.rs' 2>/dev/null)
  if [ -n "$hits" ]; then
    echo "import check: $3" >&2
    echo "$hits" >&2
    status=1
  fi
}
HIGHER_THAN_OP='core::(broker|gate|admin)::|super::super::broker\b'
HANDLERS='core::(app|broker|op|gate|admin|pages)::'
forbid src/core/op "$HIGHER_THAN_OP|crate::core::broker\b" "op never imports the broker, the gate or the admin API (it is handed the app's Keyedge)"
forbid src/core/account "$HANDLERS|crate::core::(app|broker|op)\b" "the account domain imports no handler module"
forbid "src/core/config.rs src/core/config" "$HANDLERS|crate::core::account::" "config imports no handler or domain module"
forbid src/core/upstream "$HANDLERS|core::account::" "upstream kinds import no handler or domain module"
forbid "src/core/jose src/core/claims src/core/ports.rs src/core/ports" "$HANDLERS|core::(account|config|upstream)::" "jose, claims and ports import nothing above them"
forbid src/core/ports.rs 'core::jose::' "ports do not import jose (the platform crypto trait lives in ports)"
forbid src/core '\b(worker|js_sys|web_sys|wasm_bindgen)::' "src/core never uses worker or JavaScript types"
exit $status
