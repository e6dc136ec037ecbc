#!/bin/sh
# A Device Update script handler (the microsoft/script:1 protocol): the supervisor calls it
# with --action-<action>, the manifest's arguments with the component filled in, then
# --work-folder, --result-file and --installed-criteria. It answers in the result file.
action=""; work=""; result=""; criteria=""; name=""; version=""; path=""
while [ $# -gt 0 ]; do
  case "$1" in
    --action-*) action="${1#--action-}" ;;
    --work-folder) work="$2"; shift ;;
    --result-file) result="$2"; shift ;;
    --installed-criteria) criteria="$2"; shift ;;
    *) if [ -z "$name" ]; then name="$1"; elif [ -z "$version" ]; then version="$1"; else path="$1"; fi ;;
  esac
  shift
done
marker="$work/installed-$criteria"

answer() { # resultCode extendedResultCode details
  printf '{"resultCode": %s, "extendedResultCode": %s, "resultDetails": "%s"}\n' "$1" "$2" "$3" > "$result"
}

case "$action" in
  is-installed) if [ -f "$marker" ]; then answer 900 0 "$criteria is installed"; else answer 901 0 "$criteria is not installed"; fi ;;
  download) echo "downloading firmware for $name (component version $version)"; answer 500 0 "downloaded" ;;
  install) echo "flashing $name at $path"; sleep 1; touch "$marker"; answer 600 0 "flashed $criteria" ;;
  apply) answer 700 0 "applied $criteria to $name" ;;
  cancel) answer 800 0 "nothing to cancel" ;;
  *) answer 0 0 "unknown action $action" ;;
esac
