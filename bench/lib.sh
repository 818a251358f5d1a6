# Shared by the bench scripts (sourced): the project's paths, Ansible's settings for the
# local vault, and the timing helpers. Expects REPO_DIR.
BIN="$REPO_DIR/.venv/bin"
export ANSIBLE_CONFIG="$REPO_DIR/ansible.cfg"
export ANSIBLE_VAULT_PASSWORD_FILE="$REPO_DIR/inventories/local/vault-password.txt"
export ANSIBLE_NOCOLOR=1 PATH="$BIN:$PATH"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# write_inventory DIR VPS [BACKUP]: an inventory for bench containers reached with
# `docker exec` (the VPS, and the backup host when given), the local group_vars.
write_inventory() {
  local dir="$1" vps="$2" backup="${3:-}"
  mkdir -p "$dir/host_vars"
  {
    printf 'all:\n  children:\n'
    printf '    alorig_vps:\n      hosts:\n'
    printf '        %s:\n          ansible_connection: community.docker.docker\n          ansible_host: %s\n          ansible_user: root\n' "$vps" "$vps"
    if [ -n "$backup" ]; then
      printf '    alorig_backup:\n      hosts:\n'
      printf '        %s:\n          ansible_connection: community.docker.docker\n          ansible_host: %s\n          ansible_user: root\n' "$backup" "$backup"
    fi
    printf '    igny8_old:\n      hosts: {}\n'
    printf '    control:\n      hosts:\n        localhost:\n          ansible_connection: local\n'
    printf '          ansible_python_interpreter: "{{ ansible_playbook_python }}"\n'
  } >"$dir/hosts.yml"
  ln -s "$REPO_DIR/inventories/local/group_vars" "$dir/group_vars"
}
