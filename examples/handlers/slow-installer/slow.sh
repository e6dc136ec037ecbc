#!/bin/sh
# An installer that takes its time (as firmware and agent installers do): install reports
# progress for a few seconds; everything else is instant.
op="$1"
case "$op" in
  install)
    for step in 1 2 3; do echo "installing: step $step of 3"; sleep "${EXAMPLE_INSTALL_STEP_SECONDS:-1}"; done
    echo "installed" ;;
  *) echo "slow-installer: $op" ;;
esac
