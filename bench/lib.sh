# Shared by the bench scripts (sourced): the project's paths, Ansible's settings for the
# local vault, and the timing helpers. Expects REPO_DIR.
BIN="$REPO_DIR/.venv/bin"
export ANSIBLE_CONFIG="$REPO_DIR/ansible.cfg"
export ANSIBLE_VAULT_PASSWORD_FILE="$REPO_DIR/inventories/local/vault-password.txt"
export ANSIBLE_NOCOLOR=1 PATH="$BIN:$PATH"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
