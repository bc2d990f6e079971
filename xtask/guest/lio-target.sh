# LIO (the Linux kernel target) in the guest, configured with targetcli, for
# `cargo xtask interop --peer targetcli`: our initiator and libiscsi's tools
# on the host use it through the forward 127.0.0.1:HOST_PORT -> guest :3260.
#
# LIO answers SendTargets with the portal's own address (or, for the
# wildcard portal, the connection's local address 10.0.2.15), which a host
# client must never follow. So every portal is 127.0.0.1:HOST_PORT inside
# the guest, and what slirp delivers on eth0:3260 is DNATed to it: the
# advertised TargetAddress is then the host's own forwarded address.
#
# The job writes ready when LIO serves, waits for the host's done, then
# keeps LIO's view of the sessions and the kernel's messages.
# params: HOST_PORT. The targetcli commands: targetcli.txt (one per line).
set -x
. /mnt/share/params
S=/mnt/share
sysctl -w net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.eth0.route_localnet=1
nft add table ip vmnat &&
nft add chain ip vmnat pre '{ type nat hook prerouting priority -100; }' &&
nft add rule ip vmnat pre iifname eth0 tcp dport 3260 dnat to 127.0.0.1:$HOST_PORT || exit 1
# One targetcli process for every command: each start costs seconds under TCG.
# saveconfig.json: what `iscsi-target import-lio` converts on the host.
{ echo "set global auto_save_on_exit=false"; cat $S/targetcli.txt; echo "ls /iscsi";
  echo "saveconfig $S/saveconfig.json"; } \
  | targetcli > $S/targetcli.out 2>&1
cat $S/targetcli.out
# targetcli's exit status says little about a batch: check what it made.
n=0
for np in /sys/kernel/config/target/iscsi/iqn*/tpgt_1/np/127.0.0.1:$HOST_PORT; do
  [ -d "$np" ] || { echo "no portal $np"; exit 1; }
  n=$((n + 1))
done
[ $n = 3 ] || { echo "$n portals on 127.0.0.1:$HOST_PORT, wanted 3"; exit 1; }
cat /sys/kernel/config/target/version > $S/lio-version.txt
: > $S/ready
for _ in $(seq 9000); do [ -e $S/done ] && break; sleep 0.2; done
for d in /sys/kernel/config/target/iscsi/iqn*/tpgt_1; do
  echo "== $d"; cat $d/dynamic_sessions 2>/dev/null
done > $S/lio-sessions.txt
dmesg | grep -i -E 'iscsi|target|chap' | tail -80 > $S/dmesg.txt
[ -e $S/done ]
