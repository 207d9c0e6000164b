#  Sourced by the shell tests (after setting test_name, and slow when it is
#  not 1): what each of them needs.
#  check NAME COMMAND...    runs COMMAND; prints "TEST: NAME: ok" or
#                           "TEST: NAME: FAILED" and counts passed, failed
#  within SECONDS COMMAND... true once COMMAND holds, tried every 0.1 s for
#                           SECONDS times slow (a tool slows shicd down)
#  port                     a free loopback TCP port
passed=0
failed=0
: "${slow:=1}"
: "${test_name:=test}"
check () {
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "$test_name: $name: ok"
    else failed=$((failed + 1)); echo "$test_name: $name: FAILED"; fi
}
within () {
    local deadline=$(( $(date +%s%N) / 1000000 + $1 * 1000 * slow )); shift
    while [ $(( $(date +%s%N) / 1000000 )) -lt $deadline ]; do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
port () { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
