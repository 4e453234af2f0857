# apply-common.sh - sourced by apply-benchmark.sh and apply-harness.sh: what both do to the
# servers they measure on. The caller defines `tclient` (the mariadb client on the target).

system_schemas="'mysql','information_schema','performance_schema','sys'"

# reset_target: the target as before any run: no replication, no schema but the system ones, an
# empty binlog, no GTID position (then `sync`, so that the next run does not pay for this one's
# dirty pages).
reset_target() {
    local db
    tclient -e 'STOP SLAVE' >/dev/null 2>&1 || true
    for db in $(tclient -e "SELECT schema_name FROM information_schema.schemata WHERE schema_name NOT IN ($system_schemas)"); do
        tclient -e "DROP DATABASE \`$db\`"
    done
    tclient -e "RESET SLAVE ALL; RESET MASTER; SET GLOBAL gtid_slave_pos = ''"
    sync
}
