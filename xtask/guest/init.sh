#!/bin/sh
# PID 1 of the interop guest (installed as /init of its root file system by
# `cargo xtask guest build`). No systemd, no udev: mount the basics, load the
# modules, bring up the slirp NIC with a static address and NO default route,
# mount the 9p share, run the job from the share, write its exit code there,
# power off.
#
# Kernel command line knobs:
#   vm.job=NAME   run /mnt/share/NAME (default run.sh) with sh
#   vm.shell=1    after the job, a shell on ttyS0 (manual debugging)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=${TERM:-vt100}
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm /run /tmp /mnt/share
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/lock/iscsi   # open-iscsi needs it (systemd-tmpfiles normally makes it)
mount -t tmpfs tmpfs /dev/shm
ln -sf /proc/self/fd /dev/fd 2>/dev/null
echo "VMINIT: init started at $(cut -d' ' -f1 /proc/uptime)s" > /dev/ttyS0

JOB=run.sh SHELL_ON_TTY=0
for a in $(cat /proc/cmdline); do
  case "$a" in
    vm.job=*) JOB=${a#vm.job=} ;;
    vm.shell=1) SHELL_ON_TTY=1 ;;
  esac
done

# The NIC, the share and the iSCSI and LIO modules, all up front (modprobe
# under TCG costs ~0.1 s each).
modprobe -a virtio_pci virtio_mmio virtio_net 9pnet_virtio 9p configfs \
  iscsi_tcp sd_mod sg target_core_mod iscsi_target_mod target_core_iblock \
  target_core_file target_core_user crc32c_generic xfs 2>/dev/ttyS0
mount -t configfs configfs /sys/kernel/config 2>/dev/null
# targetcli-fb needs a D-Bus system bus (it asks it for tcmu-runner handlers)
mkdir -p /run/dbus && dbus-daemon --system --fork 2>/dev/ttyS0

hostname iscsi-guest
ip link set lo up
# slirp: guest 10.0.2.15/24, the host's loopback reachable as 10.0.2.2.
# No default route on purpose: the guest reaches nothing beyond slirp.
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0

if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 share /mnt/share 2>/dev/null; then
  echo "VMINIT: share mounted at $(cut -d' ' -f1 /proc/uptime)s" > /dev/ttyS0
  if [ -f "/mnt/share/$JOB" ]; then
    echo "VMINIT: running $JOB" > /dev/ttyS0
    # No pipe here: it would hide the job's exit code.
    sh "/mnt/share/$JOB" > "/mnt/share/$JOB.log" 2>&1
    rc=$?
    echo "$rc" > "/mnt/share/$JOB.rc"
    echo "VMINIT: $JOB finished rc=$rc at $(cut -d' ' -f1 /proc/uptime)s" > /dev/ttyS0
  else
    echo "VMINIT: no /mnt/share/$JOB" > /dev/ttyS0
  fi
else
  echo "VMINIT: cannot mount the 9p share" > /dev/ttyS0
fi

if [ "$SHELL_ON_TTY" = 1 ]; then
  echo "VMINIT: shell on ttyS0 (exit to power off)" > /dev/ttyS0
  setsid sh -c 'exec sh -i < /dev/ttyS0 > /dev/ttyS0 2>&1'
fi

sync
umount /mnt/share 2>/dev/null
echo "VMINIT: power off at $(cut -d' ' -f1 /proc/uptime)s" > /dev/ttyS0
echo o > /proc/sysrq-trigger
# The power-off runs asynchronously: spin in shell builtins until it happens
# (an external command such as sleep can die with EIO while the disk goes
# away; PID 1 exiting then panics the kernel).
while :; do :; done
