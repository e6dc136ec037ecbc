#!/bin/sh
# Installs ext-supervisor under PREFIX with its systemd unit, config in /etc/ext-supervisor and the
# state and log dirs; DESTDIR puts all of it under another root (packaging, tests). See deploy/README.md.
set -eu
umask 022

MIN_NODE_MAJOR=20 # same as package.json "engines": ">=20.19"
MIN_NODE_MINOR=19
UNIT=ext-supervisor.service

usage() {
  cat <<'EOF'
usage: deploy/install.sh [options]          install or upgrade (idempotent)
       deploy/install.sh --uninstall [--purge]

  --prefix DIR              install dir (env PREFIX, default /opt/ext-supervisor)
  --destdir DIR             stage everything under DIR instead of / (env DESTDIR); never touches systemd
  --from DIR                the built project checkout (default: the checkout this script is in)
  --node-modules-from DIR   copy this node_modules (same OS, CPU and Node major) and prune it to
                            production instead of `npm ci --omit=dev` (no network needed)
  --no-enable               do not run systemctl (no daemon-reload, enable, restart, stop)
  --uninstall               stop and disable the unit, remove PREFIX, the unit and the command link;
                            keeps /etc/ext-supervisor, /var/lib/ext-supervisor and /var/log/ext-supervisor
  --purge                   with --uninstall: also remove those three
  -h, --help                this text
EOF
}

die() { printf 'install.sh: %s\n' "$1" >&2; exit "${2:-1}"; }
note() { printf 'install.sh: %s\n' "$1"; }

script_dir=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
PREFIX=${PREFIX:-/opt/ext-supervisor}
DESTDIR=${DESTDIR:-}
FROM=$(dirname -- "$script_dir")
NODE=${NODE:-node}
NPM=${NPM:-npm}
NODE_MODULES_FROM=
ENABLE=1
ACTION=install
PURGE=0

need_arg() { [ $# -ge 2 ] || die "$1 needs a value (see --help)" 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) need_arg "$@"; PREFIX=$2; shift ;;
    --prefix=*) PREFIX=${1#*=} ;;
    --destdir) need_arg "$@"; DESTDIR=$2; shift ;;
    --destdir=*) DESTDIR=${1#*=} ;;
    --from) need_arg "$@"; FROM=$2; shift ;;
    --from=*) FROM=${1#*=} ;;
    --node-modules-from) need_arg "$@"; NODE_MODULES_FROM=$2; shift ;;
    --node-modules-from=*) NODE_MODULES_FROM=${1#*=} ;;
    --no-enable) ENABLE=0 ;;
    --uninstall) ACTION=uninstall ;;
    --purge) PURGE=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option \"$1\"" 2 ;;
  esac
  shift
done
[ "$PURGE" = 0 ] || [ "$ACTION" = uninstall ] || die "--purge only goes with --uninstall" 2

# PREFIX ends up in the unit file and in sed: a plain absolute path, never / itself.
case $PREFIX in
  /*) ;;
  *) die "--prefix/PREFIX must be an absolute path (got \"$PREFIX\")" 2 ;;
esac
PREFIX=${PREFIX%/}
case $PREFIX in
  ''|*[!A-Za-z0-9/._+-]*|*/../*|*/..|*/./*|*/.) die "--prefix/PREFIX must be a plain path of letters, digits and /._+- other than / (got \"$PREFIX\")" 2 ;;
esac
if [ -n "$DESTDIR" ]; then
  mkdir -p -- "$DESTDIR"
  DESTDIR=$(CDPATH='' cd -- "$DESTDIR" && pwd)
  [ "$DESTDIR" != / ] || DESTDIR=
fi
if [ -z "$DESTDIR" ] && [ "$(id -u)" != 0 ]; then
  die "installing into / needs root (run with sudo, or set DESTDIR to stage into another root)" 2
fi

dest=$DESTDIR$PREFIX
unit_file=$DESTDIR/etc/systemd/system/$UNIT
etc_dir=$DESTDIR/etc/ext-supervisor
lib_dir=$DESTDIR/var/lib/ext-supervisor
log_dir=$DESTDIR/var/log/ext-supervisor
bin_link=$DESTDIR/usr/local/bin/supervisor

# systemctl only for the real root, when asked, and when systemd is the running init.
use_systemctl() {
  [ -z "$DESTDIR" ] && [ "$ENABLE" = 1 ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]
}

is_our_install() { [ -f "$1/package.json" ] && grep -q '"name": *"ext-supervisor"' "$1/package.json"; }

uninstall() {
  if use_systemctl; then
    systemctl disable --now "$UNIT" || note "systemctl disable --now $UNIT failed (not installed?); going on"
  fi
  if [ -e "$dest" ]; then
    is_our_install "$dest" || die "$dest does not look like an ext-supervisor install (no package.json named ext-supervisor); not removing it"
    rm -rf -- "$dest"
    note "removed $dest"
  fi
  rm -f -- "$unit_file"
  if [ -L "$bin_link" ] && [ "$(readlink "$bin_link")" = "$PREFIX/bin/supervisor" ]; then rm -f -- "$bin_link"; fi
  if use_systemctl; then systemctl daemon-reload; fi
  if [ "$PURGE" = 1 ]; then
    rm -rf -- "$etc_dir" "$lib_dir" "$log_dir"
    note "purged $etc_dir, $lib_dir and $log_dir"
  else
    note "kept config $etc_dir, state $lib_dir and logs $log_dir (--purge removes them)"
  fi
  note "handler processes the supervisor started keep running (KillMode=process); see deploy/README.md"
}

check_node() {
  command -v "$NODE" >/dev/null 2>&1 || die "node not found on PATH: install Node.js >= $MIN_NODE_MAJOR.$MIN_NODE_MINOR first"
  node_version=$("$NODE" -p 'process.versions.node' 2>/dev/null) || die "could not run \"$NODE\" to read its version"
  node_major=${node_version%%.*}
  node_rest=${node_version#*.}
  node_minor=${node_rest%%.*}
  case $node_major$node_minor in
    ''|*[!0-9]*) die "could not read the Node.js version (\"$NODE\" printed \"$node_version\")" ;;
  esac
  if [ "$node_major" -lt "$MIN_NODE_MAJOR" ] || { [ "$node_major" -eq "$MIN_NODE_MAJOR" ] && [ "$node_minor" -lt "$MIN_NODE_MINOR" ]; }; then
    die "Node.js $node_version ($(command -v "$NODE")) is too old: ext-supervisor needs >= $MIN_NODE_MAJOR.$MIN_NODE_MINOR"
  fi
  node_dir=$(dirname -- "$(command -v "$NODE")")
  case $node_dir in
    /*) ;;
    *) node_dir=$(CDPATH='' cd -- "$node_dir" && pwd) ;;
  esac
  case $node_dir in
    *[!A-Za-z0-9/._+-]*) die "the node directory \"$node_dir\" has characters a systemd PATH= line cannot hold; put node elsewhere or set NODE" ;;
  esac
  command -v "$NPM" >/dev/null 2>&1 || die "npm not found on PATH (it comes with Node.js)"
}

check_source() {
  [ -d "$FROM" ] || die "--from: \"$FROM\" is not a folder" 2
  FROM=$(CDPATH='' cd -- "$FROM" && pwd)
  is_our_install "$FROM" || die "--from: \"$FROM\" is not the ext-supervisor project (no package.json named ext-supervisor)" 2
  [ -f "$FROM/package-lock.json" ] || die "--from: \"$FROM/package-lock.json\" is missing; it pins the production dependencies" 2
  [ -f "$FROM/deploy/$UNIT" ] || die "--from: \"$FROM/deploy/$UNIT\" is missing" 2
  # The installed package runs the compiled JavaScript; building needs the dev dependencies.
  [ -f "$FROM/dist/cli/main.js" ] || die "\"$FROM/dist/\" is missing: build it first with (cd \"$FROM\" && npm ci && npm run build)" 2
  if [ -d "$FROM/src" ] && [ -n "$(find "$FROM/src" -newer "$FROM/dist/cli/main.js" -name '*.ts' 2>/dev/null | head -n 1)" ]; then
    note "warning: some of $FROM/src is newer than dist/; run \`npm run build\` there if that was not intended"
  fi
  if [ -n "$NODE_MODULES_FROM" ]; then
    [ -d "$NODE_MODULES_FROM" ] || die "--node-modules-from: \"$NODE_MODULES_FROM\" is not a folder" 2
  fi
}

# Builds the complete package in a sibling staging dir, so a failed install leaves the old one intact.
stage_package() {
  mkdir -p -- "$(dirname -- "$dest")"
  stage=$(mktemp -d "$dest.staging.XXXXXX")
  chmod 0755 "$stage"
  cp -- "$FROM/package.json" "$FROM/package-lock.json" "$stage/"
  for d in bin dist docs examples deploy; do
    if [ -d "$FROM/$d" ]; then cp -RP -- "$FROM/$d" "$stage/$d"; fi
  done
  chmod 0755 "$stage/bin/supervisor.cjs" "$stage/bin/supervisor.js" "$stage/deploy/install.sh"
  ln -sfn supervisor.cjs "$stage/bin/supervisor"
  if [ -n "$NODE_MODULES_FROM" ]; then
    cp -RP -- "$NODE_MODULES_FROM" "$stage/node_modules"
    # --offline: prune removes dev packages and can only fill a gap from npm's cache; `npm ls` then proves the tree complete.
    (cd "$stage" && "$NPM" prune --omit=dev --offline --ignore-scripts --no-audit --no-fund) >&2 \
      || die "npm prune --omit=dev failed in $stage"
    (cd "$stage" && "$NPM" ls --omit=dev --offline --all >/dev/null) \
      || die "$NODE_MODULES_FROM lacks production dependencies that package-lock.json needs; run npm ci in its project"
    find "$stage/node_modules" -mindepth 1 -maxdepth 1 -type d -empty -exec rmdir {} +
  else
    # --ignore-scripts: the project's `prepare` would try to compile with the (absent) dev tools.
    (cd "$stage" && "$NPM" ci --omit=dev --ignore-scripts --no-audit --no-fund) >&2 \
      || die "npm ci --omit=dev failed in $stage (no registry access? see --node-modules-from in deploy/README.md)"
  fi
}

swap_in() {
  if [ -e "$dest" ]; then
    is_our_install "$dest" || die "$dest exists and is not an ext-supervisor install; not replacing it"
    old=$dest.old.$$
    mv -- "$dest" "$old"
  fi
  mv -- "$stage" "$dest"
  stage=
  if [ -n "$old" ]; then rm -rf -- "$old"; old=; fi
}

# Creates FILE with MODE and the content on stdin, only when FILE does not exist yet.
write_if_absent() {
  if [ -e "$1" ]; then
    cat >/dev/null
    note "kept existing $1"
    return 0
  fi
  cat >"$1.tmp.$$"
  chmod "$2" "$1.tmp.$$"
  mv -- "$1.tmp.$$" "$1"
  note "wrote $1"
}

write_config() {
  mkdir -p -- "$etc_dir"
  chmod 0755 "$etc_dir"
  # 0600: SUPERVISOR_ARGS may carry a --report-url with a token.
  write_if_absent "$etc_dir/supervisor.env" 0600 <<'EOF'
# Environment of ext-supervisor.service (systemd EnvironmentFile= syntax: KEY=value, no shell).
# After a change: systemctl restart ext-supervisor   (handlers keep running)
#
# The goal state: a JSON file, or an http(s):// URL polled with If-None-Match. The daemon reads
# it from its environment, so a URL's token never shows in the process list.
SUPERVISOR_GOAL_STATE=/etc/ext-supervisor/goal-state.json
# More flags for `supervisor run`, split on spaces, e.g.
# SUPERVISOR_ARGS=--poll-interval 30 --log-level debug --http-listen 127.0.0.1:9464 --report-url https://example.invalid/report
SUPERVISOR_ARGS=
# Other dirs than /var/lib/ext-supervisor and /var/log/ext-supervisor (then pass the same
# --lib-dir/--log-dir, or export these, when you run `supervisor ps` by hand):
# SUPERVISOR_LIB_DIR=/srv/ext-supervisor
# SUPERVISOR_LOG_DIR=/srv/ext-supervisor/log
EOF
  # 0600: a goal state carries protectedSettings.
  write_if_absent "$etc_dir/goal-state.json" 0600 <<'EOF'
{
  "etag": "empty",
  "handlers": []
}
EOF
}

write_unit() {
  mkdir -p -- "$(dirname -- "$unit_file")"
  # systemd's own default PATH, with node's dir in front when it is elsewhere (nvm, /opt/node).
  sys_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  case :$sys_path: in
    *:$node_dir:*) unit_path=$sys_path ;;
    *) unit_path=$node_dir:$sys_path ;;
  esac
  sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@PATH@|$unit_path|g" "$dest/deploy/$UNIT" >"$unit_file.tmp.$$"
  if grep -q '@[A-Z_]*@' "$unit_file.tmp.$$"; then
    rm -f -- "$unit_file.tmp.$$"
    die "$dest/deploy/$UNIT has a placeholder install.sh does not know"
  fi
  chmod 0644 "$unit_file.tmp.$$"
  mv -- "$unit_file.tmp.$$" "$unit_file"
}

link_command() {
  mkdir -p -- "$(dirname -- "$bin_link")"
  if [ -e "$bin_link" ] && [ ! -L "$bin_link" ]; then
    die "$bin_link exists and is not a symlink; move it away and run again"
  fi
  ln -sfn "$PREFIX/bin/supervisor" "$bin_link"
}

install_all() {
  check_source
  check_node
  stage=
  old=
  trap 'if [ -n "${stage:-}" ]; then rm -rf -- "$stage"; fi; if [ -n "${old:-}" ] && [ ! -e "$dest" ]; then mv -- "$old" "$dest"; fi' EXIT
  trap 'exit 1' INT TERM HUP
  stage_package
  swap_in
  # State and logs: 0700 as the contract wants for every supervisor folder.
  mkdir -p -- "$lib_dir" "$log_dir"
  chmod 0700 "$lib_dir" "$log_dir"
  write_config
  write_unit
  link_command
  note "installed $(cd "$dest" && "$NODE" -p 'require("./package.json").version') into $dest"
  if use_systemctl; then
    # restart, not `enable --now`: after an upgrade the running daemon must pick up the new code.
    systemctl daemon-reload
    systemctl enable "$UNIT"
    systemctl restart "$UNIT"
    note "ext-supervisor is enabled and running: systemctl status ext-supervisor"
  elif [ -z "$DESTDIR" ] && [ "$ENABLE" = 1 ]; then
    note "systemd is not running here; start it yourself: $PREFIX/bin/supervisor run --goal-state $etc_dir/goal-state.json"
  else
    note "systemd left alone; to start: systemctl daemon-reload && systemctl enable --now ext-supervisor"
  fi
}

if [ "$ACTION" = uninstall ]; then uninstall; else install_all; fi
