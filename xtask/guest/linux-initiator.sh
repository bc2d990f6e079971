# The Linux kernel initiator (open-iscsi + iscsi_tcp) against our target on
# the host, run inside the guest by `cargo xtask interop --peer linux` as
# `sh /mnt/share/linux-initiator.sh`.
#
# Every check appends one line to /mnt/share/checks.txt:
#   PASS NAME: figures     or     FAIL NAME: what went wrong
# and the job goes on, so one run reports every problem; it exits 1 when a
# check failed. The host parses checks.txt (one step per line).
#
# The host answers requests through the share: the job writes host.N with
# one word (kill9-restart, sigterm-restart, grow-file, connections) and the host
# writes host.N.done with its answer.
#
# params: PORT, PORT2 (portal group 2), IQN_RAM, IQN_4K, IQN_FILE, IQN_CHAP, IQN_MUTUAL, CHAP_USER,
# CHAP_SECRET, TARGET_USER, TARGET_SECRET, FIO_SIZE_MB, FILE_GROWN_MB
. /mnt/share/params
S=/mnt/share
# slirp: 10.0.2.2 is the host's 127.0.0.1. Our target advertises its own
# portal, 127.0.0.1:PORT, which in here would be the guest itself: no
# discovered record is ever followed, each node is made for 10.0.2.2.
P=10.0.2.2:$PORT
P2=10.0.2.2:$PORT2
FAILS=0
N=0
: > $S/checks.txt
t() { cut -d' ' -f1 /proc/uptime; }
say() { echo "== $* (uptime $(t) s)"; }
pass() { echo "PASS $NAME: $*" | tee -a $S/checks.txt; }
fail() { echo "FAIL $NAME: $*" | tee -a $S/checks.txt; FAILS=$((FAILS + 1)); }
# host WORD: ask the host to do something; its answer lands in $ANSWER.
# (Not to be called in $(...): N must count in this shell.)
host() {
  N=$((N + 1))
  echo "$1" > $S/host.$N.tmp && mv $S/host.$N.tmp $S/host.$N
  for _ in $(seq 900); do
    if [ -e $S/host.$N.done ]; then ANSWER=$(cat $S/host.$N.done); return 0; fi
    sleep 0.2
  done
  ANSWER="the host did not answer $1"; return 1
}
node_new() { iscsiadm -m node -T "$1" -p "$P" -o new > /dev/null; }
node_set() { iscsiadm -m node -T "$1" -p "$P" -o update -n "$2" -v "$3"; }
login() { iscsiadm -m node -T "$1" -p "$P" --login; }
logout() { iscsiadm -m node -T "$1" -p "$P" --logout; }
# The sdX of the session to target $1 (empty when there is none).
disk_of() {
  iscsiadm -m session -P3 2>/dev/null | awk -v t="$1" '
    /^Target: /{cur=$2} /Attached scsi disk/{ if (cur==t) {print $4; exit} }'
}
# The sdX of the session to target $1 through portal $2 (host:port).
disk_via() {
  iscsiadm -m session -P3 2>/dev/null | awk -v t="$1" -v p="$2" '
    /^Target: /{cur=$2} /Current Portal:/{por=$3}
    /Attached scsi disk/{ if (cur==t && index(por, p ",")==1) {print $4; exit} }'
}
wait_disk() {
  for _ in $(seq 150); do
    d=$(disk_of "$1")
    if [ -n "$d" ] && [ -b "/dev/$d" ]; then echo "$d"; return 0; fi
    sleep 0.1
  done
  return 1
}
session_state() {
  iscsiadm -m session -P3 2>/dev/null | awk -v t="$1" '
    /^Target: /{cur=$2} /iSCSI Session State:/{ if (cur==t) {print $4; exit} }'
}
# fio JSON -> "read R MiB, written W MiB, errors E" (python3 is in the guest)
fio_sum() {
  python3 - "$1" <<'EOF'
import json, sys
t = open(sys.argv[1]).read()
d = json.loads(t[t.index("{"):])  # fio may print warnings first
r = sum(j["read"]["io_bytes"] for j in d["jobs"])
w = sum(j["write"]["io_bytes"] for j in d["jobs"])
e = sum(j.get("error", 0) for j in d["jobs"])
print(f"read {r/2**20:.0f} MiB, written {w/2**20:.0f} MiB, errors {e}")
EOF
}
# Files of 4 MiB of random bytes in $1, their SHA-256 in $2.
write_files() {
  for i in $(seq 1 16); do
    dd if=/dev/urandom of="$1/f$i" bs=1M count=4 status=none || return 1
  done
  (cd "$1" && sha256sum f*) > "$2"
}

say "job start"
iscsid || { echo "iscsid did not start"; exit 1; }
sleep 0.3

# ------------------------------------------------------------- discovery
NAME="discovery (iscsiadm -m discovery -t st)"
if iscsiadm -m discovery -t st -p "$P" > $S/discovery.txt 2>&1; then
  missing=
  for q in "$IQN_RAM" "$IQN_4K" "$IQN_FILE" "$IQN_CHAP" "$IQN_MUTUAL"; do
    grep -q " $q\$" $S/discovery.txt || missing="$missing $q"
  done
  if [ -z "$missing" ]; then pass "$(wc -l < $S/discovery.txt) targets listed: $(awk '{print $1}' $S/discovery.txt | sort -u | tr '\n' ' ')"
  else fail "not listed:$missing"; fi
else fail "iscsiadm failed: $(tail -1 $S/discovery.txt)"; fi
iscsiadm -m node -o delete 2>/dev/null
for q in "$IQN_RAM" "$IQN_4K" "$IQN_FILE" "$IQN_CHAP" "$IQN_MUTUAL"; do node_new "$q"; done

# ------------------------------------------------- login, no authentication
NAME="login AuthMethod=None"
DEV=
if login "$IQN_RAM" > $S/login-ram.txt 2>&1 && DEV=$(wait_disk "$IQN_RAM"); then
  pass "/dev/$DEV, session state $(session_state "$IQN_RAM")"
else fail "$(tail -2 $S/login-ram.txt | tr '\n' ' ')"; fi
iscsiadm -m session -P3 > $S/session-ram.txt 2>&1

NAME="block device 512"
if [ -n "$DEV" ]; then
  bytes=$(( $(cat /sys/block/$DEV/size) * 512 ))
  lbs=$(cat /sys/block/$DEV/queue/logical_block_size)
  if [ "$bytes" = $((1024 * 1048576)) ] && [ "$lbs" = 512 ]; then pass "$bytes bytes, logical block $lbs"
  else fail "$bytes bytes, logical block $lbs (wanted 1073741824 and 512)"; fi
else fail "no disk"; fi

NAME="sg_inq, sg_vpd 0x83 0xb0 0xb2, sg_readcap, lsblk -D"
if [ -n "$DEV" ]; then
  ok=1
  sg_inq /dev/$DEV > $S/sg_inq.txt 2>&1 || ok=0
  sg_vpd -p 0x83 /dev/$DEV > $S/sg_vpd_83.txt 2>&1 || ok=0
  sg_vpd -p 0xb0 /dev/$DEV > $S/sg_vpd_b0.txt 2>&1 || ok=0
  sg_vpd -p 0xb2 /dev/$DEV > $S/sg_vpd_b2.txt 2>&1 || ok=0
  sg_readcap -l /dev/$DEV > $S/sg_readcap.txt 2>&1 || ok=0
  lsblk -D -b -n -o NAME,DISC-ALN,DISC-GRAN,DISC-MAX,DISC-ZERO /dev/$DEV > $S/lsblk-D.txt 2>&1 || ok=0
  vendor=$(awk -F: '/Vendor identification/{gsub(/^ +| +$/,"",$2); print $2}' $S/sg_inq.txt)
  naa=$(grep -c -i 'NAA' $S/sg_vpd_83.txt)
  maxunmap=$(awk -F: '/Maximum unmap LBA count/{gsub(/ /,"",$2); print $2}' $S/sg_vpd_b0.txt)
  lbpu=$(awk -F: '/Unmap command supported \(LBPU\)/{gsub(/ /,"",$2); print $2}' $S/sg_vpd_b2.txt)
  lbpme=$(grep -o -i 'lbpme=[01]' $S/sg_readcap.txt | cut -d= -f2)
  gran=$(awk '{print $3}' $S/lsblk-D.txt)
  dmax=$(awk '{print $4}' $S/lsblk-D.txt)
  if [ $ok = 1 ] && [ "$vendor" = RSISCSI ] && [ "$naa" -ge 1 ] && [ "$lbpu" = 1 ] \
     && [ "$lbpme" = 1 ] && [ "${dmax:-0}" -gt 0 ]; then
    pass "vendor $vendor, $naa NAA designators, max unmap LBA count $maxunmap, LBPU $lbpu, LBPME $lbpme, discard granularity $gran max $dmax"
  else
    fail "ok=$ok vendor=$vendor naa=$naa lbpu=$lbpu lbpme=$lbpme discard gran=$gran max=$dmax"
  fi
else fail "no disk"; fi

# ------------------------------------------------ ext4 round trip + discard
NAME="ext4 round trip (mkfs, 64 MiB of files, remount, checksums, fsck)"
if [ -n "$DEV" ]; then
  mkdir -p /mnt/a
  if mkfs.ext4 -q -F /dev/$DEV 512M && mount /dev/$DEV /mnt/a && write_files /mnt/a $S/ext4.sha256 \
     && umount /mnt/a && echo 3 > /proc/sys/vm/drop_caches && mount /dev/$DEV /mnt/a \
     && (cd /mnt/a && sha256sum -c --quiet $S/ext4.sha256) > $S/ext4-verify.txt 2>&1; then
    used=$(df -m /mnt/a | awk 'NR==2{print $3}')
    # UNMAP reaches the backend: the blocks of a deleted file are mapped
    # before fstrim and deallocated after (GET LBA STATUS answers from the
    # RAM LUN's own allocation map).
    blk=$(filefrag -v -b512 /mnt/a/f1 | awk '$1=="0:"{sub(/\.\..*/,"",$4); print $4; exit}')
    before=$(sg_get_lba_status --lba=$blk --maxlen=24 /dev/$DEV 2>&1 | head -3 | tr '\n' ' ')
    rm /mnt/a/f1 && sync
    trimmed=$(fstrim -v /mnt/a 2>&1)
    after=$(sg_get_lba_status --lba=$blk --maxlen=24 /dev/$DEV 2>&1 | head -3 | tr '\n' ' ')
    umount /mnt/a
    if fsck.ext4 -f -n /dev/$DEV > $S/fsck-ext4.txt 2>&1; then
      pass "$used MiB used, 16 files x 4 MiB verified after remount and cache drop, fsck -f clean"
    else fail "fsck: $(tail -2 $S/fsck-ext4.txt | tr '\n' ' ')"; fi
    NAME="fstrim deallocates on the RAM LUN"
    echo "lba $blk before: $before / $trimmed / after: $after" > $S/discard.txt
    case "$before" in *"mapped"*|*"Mapped"*) m=1 ;; *) m=0 ;; esac
    case "$after" in *"deallocated"*|*"Deallocated"*) d=1 ;; *) d=0 ;; esac
    if [ $m = 1 ] && [ $d = 1 ]; then pass "$trimmed; LBA $blk of a deleted file: mapped before, deallocated after"
    else fail "$(cat $S/discard.txt)"; fi
  else
    fail "$(tail -3 $S/ext4-verify.txt 2>/dev/null | tr '\n' ' ')"; umount /mnt/a 2>/dev/null
  fi
else fail "no disk"; fi

NAME="blkdiscard of a raw range"
if [ -n "$DEV" ]; then
  # 16 MiB at 600 MiB, outside the file system
  dd if=/dev/urandom of=/dev/$DEV bs=1M count=16 seek=600 oflag=direct status=none
  b=$(sg_get_lba_status --lba=$((600 * 2048)) --maxlen=24 /dev/$DEV 2>&1 | head -3 | tr '\n' ' ')
  blkdiscard -f -o $((600 * 1048576)) -l $((16 * 1048576)) /dev/$DEV
  a=$(sg_get_lba_status --lba=$((600 * 2048)) --maxlen=24 /dev/$DEV 2>&1 | head -3 | tr '\n' ' ')
  z=$(dd if=/dev/$DEV bs=1M count=16 skip=600 iflag=direct status=none | tr -d '\0' | wc -c)
  case "$b$a" in *apped*eallocated*) if [ "$z" = 0 ]; then pass "16 MiB mapped, then deallocated and read back as zeros"; else fail "$z non-zero bytes after discard"; fi ;;
    *) fail "before: $b after: $a" ;; esac
else fail "no disk"; fi

# --------------------------------------------------------------- fio verify
NAME="fio verify=crc32c on the raw device"
if [ -n "$DEV" ]; then
  off=$((640 * 1048576))
  if fio --output-format=json --output=$S/fio-raw.json \
      --filename=/dev/$DEV --ioengine=libaio --direct=1 --verify=crc32c --do_verify=1 \
      --verify_fatal=1 --group_reporting=0 \
      --name=rand4k --rw=randwrite --bs=4k --iodepth=16 --numjobs=2 --offset=$off \
      --size=${FIO_SIZE_MB}M --offset_increment=${FIO_SIZE_MB}M \
      --name=seq1m --rw=write --bs=1M --iodepth=16 --numjobs=1 --offset=$((off + 2 * FIO_SIZE_MB * 1048576)) \
      --size=$((FIO_SIZE_MB * 2))M > $S/fio-raw.txt 2>&1; then
    pass "4 KiB random write QD16 x 2 jobs + 1 MiB sequential QD16, verified: $(fio_sum $S/fio-raw.json)"
  else fail "fio exited non-zero: $(tail -3 $S/fio-raw.txt | tr '\n' ' ')"; fi
else fail "no disk"; fi

# ---------------------------------------------------- persistent reservations
NAME="persistent reservations (sg_persist)"
if [ -n "$DEV" ]; then
  r=0
  {
    sg_persist --out --register --param-sark=0x1234abcd /dev/$DEV &&
    sg_persist --out --reserve --param-rk=0x1234abcd --prout-type=1 /dev/$DEV &&
    sg_persist --in --read-keys /dev/$DEV &&
    sg_persist --in --read-reservation /dev/$DEV &&
    sg_persist --out --release --param-rk=0x1234abcd --prout-type=1 /dev/$DEV &&
    sg_persist --in --read-reservation /dev/$DEV &&
    sg_persist --out --clear --param-rk=0x1234abcd /dev/$DEV &&
    sg_persist --in --read-keys /dev/$DEV
  } > $S/sg_persist.txt 2>&1 || r=$?
  keys=$(grep -c '0x1234abcd' $S/sg_persist.txt)
  if [ $r = 0 ] && grep -q 'Write Exclusive' $S/sg_persist.txt && grep -q 'there are NO registered reservation keys' $S/sg_persist.txt; then
    pass "register, reserve (Write Exclusive), read keys, read reservation, release, clear ($keys lines name the key)"
  else fail "rc $r: $(tail -3 $S/sg_persist.txt | tr '\n' ' ')"; fi
else fail "no disk"; fi

NAME="REGISTER AND MOVE (sg_persist --register-move)"
if [ -n "$DEV" ]; then
  # The reservation moves to another initiator port (not logged in) on
  # relative target port 1; this nexus then conflicts, registers again,
  # preempts it back and clears.
  r=0; w=0
  {
    sg_persist --out --register --param-sark=0xaaaa /dev/$DEV &&
    sg_persist --out --reserve --param-rk=0xaaaa --prout-type=1 /dev/$DEV &&
    sg_persist --out --register-move --param-rk=0xaaaa --param-sark=0xbbbb --prout-type=1 \
      --relative-target-port=1 --unreg \
      --transport-id="iqn.2026-11.rs.iscsi:elsewhere,i,0x400000000001" /dev/$DEV &&
    sg_persist --in --read-reservation /dev/$DEV
  } > $S/sg_persist-move.txt 2>&1 || r=$?
  dd if=/dev/zero of=/dev/$DEV bs=4096 count=1 oflag=direct status=none 2> $S/move-write.txt && w=1
  {
    sg_persist --out --register --param-sark=0xcccc /dev/$DEV &&
    sg_persist --out --preempt --param-rk=0xcccc --param-sark=0xbbbb --prout-type=1 /dev/$DEV &&
    sg_persist --out --clear --param-rk=0xcccc /dev/$DEV
  } >> $S/sg_persist-move.txt 2>&1 || r=$?
  if [ $r = 0 ] && [ $w = 0 ] && grep -q 'Key=0xbbbb' $S/sg_persist-move.txt; then
    pass "reservation moved to key 0xbbbb of another I_T nexus, our write then refused, preempted back and cleared"
  else fail "rc $r, write after the move succeeded=$w: $(tail -3 $S/sg_persist-move.txt | tr '\n' ' ')"; fi
else fail "no disk"; fi

NAME="sg_rtpg (ALUA target port groups)"
if [ -n "$DEV" ] && sg_rtpg -d /dev/$DEV > $S/sg_rtpg.txt 2>&1 && grep -q 'active/optimized' $S/sg_rtpg.txt; then
  pass "$(grep -m1 -i 'target port group id' $S/sg_rtpg.txt | tr -s ' '), active/optimized"
else fail "$(tail -3 $S/sg_rtpg.txt 2>/dev/null | tr '\n' ' ')"; fi

# ------------------------------- two paths: PREEMPT AND ABORT across them
NAME="PREEMPT AND ABORT across two sessions (sg_persist, one per portal group)"
DEV2=
iscsiadm -m node -T "$IQN_RAM" -p "$P2" -o new > /dev/null 2>&1
if [ -n "$DEV" ] && iscsiadm -m node -T "$IQN_RAM" -p "$P2" --login > $S/login-p2.txt 2>&1; then
  for _ in $(seq 150); do
    DEV2=$(disk_via "$IQN_RAM" "$P2"); [ -n "$DEV2" ] && [ -b /dev/$DEV2 ] && break; sleep 0.1
  done
fi
if [ -n "$DEV" ] && [ -n "$DEV2" ] && [ "$DEV" != "$DEV2" ]; then
  # Path 2 registers and holds Write Exclusive; path 1, registered too,
  # preempts it with PREEMPT AND ABORT: path 2 is no longer registered,
  # its writes conflict, path 1's go through.
  r=0; w1=0; w2=0
  {
    sg_persist --out --register --param-sark=0xa1 /dev/$DEV &&
    sg_persist --out --register --param-sark=0xb2 /dev/$DEV2 &&
    sg_persist --out --reserve --param-rk=0xb2 --prout-type=1 /dev/$DEV2 &&
    sg_persist --out --preempt-abort --param-rk=0xa1 --param-sark=0xb2 --prout-type=1 /dev/$DEV &&
    # Path 2's next command meets REGISTRATIONS PREEMPTED (sg passes it on).
    { sg_turs /dev/$DEV2 > $S/pa-ua.txt 2>&1; true; } &&
    sg_persist --in --read-keys /dev/$DEV2 &&
    sg_persist --in --read-reservation /dev/$DEV2
  } > $S/sg_persist-preempt-abort.txt 2>&1 || r=$?
  dd if=/dev/zero of=/dev/$DEV2 bs=4096 count=1 seek=1000 oflag=direct status=none 2> $S/pa-write2.txt && w2=1
  dd if=/dev/zero of=/dev/$DEV bs=4096 count=1 seek=1000 oflag=direct status=none 2> $S/pa-write1.txt && w1=1
  sg_persist --out --clear --param-rk=0xa1 /dev/$DEV >> $S/sg_persist-preempt-abort.txt 2>&1
  ua=$(grep -c -i 'registrations preempted' $S/pa-ua.txt)
  if [ $r = 0 ] && [ $w1 = 1 ] && [ $w2 = 0 ] && [ "$ua" -ge 1 ] && grep -q 'Key=0xa1' $S/sg_persist-preempt-abort.txt; then
    pass "/dev/$DEV ($P) preempted /dev/$DEV2 ($P2): path 2 told REGISTRATIONS PREEMPTED, reservation key 0xa1 now, path 2's write refused, path 1's written"
  else fail "rc $r, write path1=$w1 path2=$w2 (want 1, 0), UA seen $ua: $(tail -3 $S/sg_persist-preempt-abort.txt | tr '\n' ' ')"; fi
else fail "no second path: DEV=$DEV DEV2=$DEV2 $(tail -2 $S/login-p2.txt 2>/dev/null | tr '\n' ' ')"; fi
iscsiadm -m node -T "$IQN_RAM" -p "$P2" --logout > /dev/null 2>&1

NAME="logout"
if logout "$IQN_RAM" > $S/logout-ram.txt 2>&1 && [ -z "$(disk_of "$IQN_RAM")" ]; then pass "session to $IQN_RAM ended"
else fail "$(tail -2 $S/logout-ram.txt | tr '\n' ' ')"; fi

# ------------------------------------------------- 4096-byte blocks and xfs
NAME="block device 4096 + xfs"
if login "$IQN_4K" > $S/login-4k.txt 2>&1 && D4=$(wait_disk "$IQN_4K"); then
  bytes=$(( $(cat /sys/block/$D4/size) * 512 ))
  lbs=$(cat /sys/block/$D4/queue/logical_block_size)
  mkdir -p /mnt/x
  if [ "$bytes" = $((512 * 1048576)) ] && [ "$lbs" = 4096 ] \
     && mkfs.xfs -q -f /dev/$D4 && mount /dev/$D4 /mnt/x && write_files /mnt/x $S/xfs.sha256 \
     && rm /mnt/x/f16 && fstrim /mnt/x && umount /mnt/x && echo 3 > /proc/sys/vm/drop_caches \
     && mount /dev/$D4 /mnt/x && sed -i '/ f16$/d' $S/xfs.sha256 \
     && (cd /mnt/x && sha256sum -c --quiet $S/xfs.sha256) > $S/xfs-verify.txt 2>&1 \
     && umount /mnt/x && xfs_repair -n /dev/$D4 > $S/xfs_repair.txt 2>&1; then
    pass "$bytes bytes, logical block $lbs; mkfs.xfs, 15 files verified after fstrim, remount and cache drop, xfs_repair -n clean"
  else
    umount /mnt/x 2>/dev/null
    fail "$bytes bytes, block $lbs: $(tail -2 $S/xfs-verify.txt $S/xfs_repair.txt 2>/dev/null | tr '\n' ' ')"
  fi
  logout "$IQN_4K" > /dev/null 2>&1
else fail "$(tail -2 $S/login-4k.txt | tr '\n' ' ')"; fi

# ------------------------------------------------------------------- CHAP
chap_login() {  # chap_login IQN ALGS USER SECRET [TUSER TSECRET]
  node_set "$1" node.session.auth.authmethod CHAP
  node_set "$1" node.session.auth.chap_algs "$2"
  node_set "$1" node.session.auth.username "$3"
  node_set "$1" node.session.auth.password "$4"
  if [ -n "${5:-}" ]; then
    node_set "$1" node.session.auth.username_in "$5"
    node_set "$1" node.session.auth.password_in "$6"
  fi
  login "$1"
}
for alg in MD5 SHA256; do
  NAME="CHAP $alg"
  if chap_login "$IQN_CHAP" $alg "$CHAP_USER" "$CHAP_SECRET" > $S/login-chap-$alg.txt 2>&1 \
     && D=$(wait_disk "$IQN_CHAP") && dd if=/dev/$D of=/dev/null bs=1M count=4 iflag=direct status=none; then
    pass "logged in with CHAP_A $alg, /dev/$D readable"
  else fail "$(tail -2 $S/login-chap-$alg.txt | tr '\n' ' ')"; fi
  logout "$IQN_CHAP" > /dev/null 2>&1
done

NAME="mutual CHAP"
if chap_login "$IQN_MUTUAL" SHA256,MD5 "$CHAP_USER" "$CHAP_SECRET" "$TARGET_USER" "$TARGET_SECRET" > $S/login-mutual.txt 2>&1 \
   && D=$(wait_disk "$IQN_MUTUAL"); then
  pass "the target proved itself as $TARGET_USER; /dev/$D"
else fail "$(tail -2 $S/login-mutual.txt | tr '\n' ' ')"; fi
logout "$IQN_MUTUAL" > /dev/null 2>&1

# ------------------------------------------- EXTENDED COPY between targets
# The SCSI generic device of disk $1 (sg_xcopy sends its commands there).
sg_of() {
  g=$(ls /sys/block/$1/device/scsi_generic/ 2>/dev/null | head -1)
  [ -n "$g" ] || return 1
  [ -c /dev/$g ] || mknod /dev/$g c $(tr ':' ' ' < /sys/class/scsi_generic/$g/dev)
  echo /dev/$g
}
# The CHAP session may reach the open RAM target, so an EXTENDED COPY sent
# to the CHAP LUN may read the RAM LUN; the RAM session has no CHAP, so one
# sent to the RAM LUN may not name the CHAP LUN.
NAME="sg_xcopy from the RAM LUN to the CHAP LUN (copy done by the target)"
if login "$IQN_RAM" > $S/login-xcopy.txt 2>&1 && DR=$(wait_disk "$IQN_RAM") \
   && chap_login "$IQN_CHAP" MD5 "$CHAP_USER" "$CHAP_SECRET" >> $S/login-xcopy.txt 2>&1 \
   && DC=$(wait_disk "$IQN_CHAP"); then
  dd if=/dev/urandom of=/tmp/xcopy.src bs=1M count=8 status=none
  dd if=/tmp/xcopy.src of=/dev/$DR bs=1M oflag=direct status=none
  dd if=/dev/zero of=/dev/$DC bs=1M count=8 oflag=direct status=none
  GR=$(sg_of $DR); GC=$(sg_of $DC)
  if sg_xcopy if=$GR of=$GC bs=512 count=16384 --on_dst > $S/xcopy.txt 2>&1; then
    a=$(sha256sum < /tmp/xcopy.src | cut -c1-64)
    b=$(dd if=/dev/$DC bs=1M count=8 iflag=direct status=none | sha256sum | cut -c1-64)
    if [ "$a" = "$b" ]; then pass "8 MiB in $(grep -c . $S/xcopy.txt) lines of sg_xcopy output, SHA-256 ${a%"${a#????????????????}"}... equal"
    else fail "the CHAP LUN holds other data after the copy"; fi
  else fail "$(tail -3 $S/xcopy.txt | tr '\n' ' ')"; fi
  NAME="sg_xcopy naming a LUN outside the session's reach is refused"
  dd if=/dev/zero of=/dev/$DC bs=1M count=1 oflag=direct status=none
  if sg_xcopy if=$GR of=$GC bs=512 count=2048 --on_src > $S/xcopy-refused.txt 2>&1; then
    fail "the copy was accepted"
  elif grep -qi 'copy aborted\|not reachable' $S/xcopy-refused.txt \
       && [ "$(dd if=/dev/$DC bs=1M count=1 iflag=direct status=none | tr -d '\0' | wc -c)" = 0 ]; then
    pass "$(grep -i -m1 'copy aborted\|not reachable' $S/xcopy-refused.txt | tr -s ' '); nothing copied"
  else fail "$(tail -3 $S/xcopy-refused.txt | tr '\n' ' ')"; fi
  logout "$IQN_CHAP" > /dev/null 2>&1
  logout "$IQN_RAM" > /dev/null 2>&1
else fail "$(tail -2 $S/login-xcopy.txt | tr '\n' ' ')"; logout "$IQN_CHAP" > /dev/null 2>&1; logout "$IQN_RAM" > /dev/null 2>&1; fi

NAME="wrong CHAP secret refused"
if chap_login "$IQN_CHAP" MD5 "$CHAP_USER" "wrong-secret-0000" > $S/login-wrong.txt 2>&1; then
  fail "the login succeeded"; logout "$IQN_CHAP" > /dev/null 2>&1
else
  if grep -q -i 'authoriz\|authentic' $S/login-wrong.txt; then pass "iscsiadm: $(grep -i 'authoriz\|authentic' $S/login-wrong.txt | tail -1)"
  else fail "refused, but iscsiadm did not say why: $(tail -2 $S/login-wrong.txt | tr '\n' ' ')"; fi
fi
# iscsiadm leaves the failed node record in place; a later retry must not happen
iscsiadm -m node -T "$IQN_CHAP" -p "$P" -o delete > /dev/null 2>&1

# ------------------------------------------------------------------ digests
NAME="HeaderDigest and DataDigest CRC32C"
node_set "$IQN_RAM" node.conn[0].iscsi.HeaderDigest CRC32C
node_set "$IQN_RAM" node.conn[0].iscsi.DataDigest CRC32C
if login "$IQN_RAM" > $S/login-digest.txt 2>&1 && D=$(wait_disk "$IQN_RAM"); then
  iscsiadm -m session -P2 > $S/session-digest.txt 2>&1
  hd=$(awk '/HeaderDigest:/{print $2; exit}' $S/session-digest.txt)
  dd_=$(awk '/DataDigest:/{print $2; exit}' $S/session-digest.txt)
  dd if=/dev/urandom of=/tmp/digest.bin bs=1M count=8 status=none
  dd if=/tmp/digest.bin of=/dev/$D bs=1M seek=700 oflag=direct status=none
  dd if=/dev/$D of=/tmp/digest.back bs=1M skip=700 count=8 iflag=direct status=none
  if [ "$hd" = CRC32C ] && [ "$dd_" = CRC32C ] && cmp -s /tmp/digest.bin /tmp/digest.back; then
    pass "negotiated HeaderDigest $hd, DataDigest $dd_; 8 MiB written and read back equal"
  else fail "HeaderDigest $hd, DataDigest $dd_, data equal: $(cmp /tmp/digest.bin /tmp/digest.back 2>&1 || true)"; fi
  logout "$IQN_RAM" > /dev/null 2>&1
else fail "$(tail -2 $S/login-digest.txt | tr '\n' ' ')"; fi

# ------------------------------------- kill -9 of the target under fio verify
NAME="target killed (-9) and restarted under fio verify"
node_set "$IQN_FILE" node.session.timeo.replacement_timeout 120
if login "$IQN_FILE" > $S/login-file.txt 2>&1 && DF=$(wait_disk "$IQN_FILE"); then
  mkdir -p /mnt/f
  if mkfs.ext4 -q -F /dev/$DF && mount /dev/$DF /mnt/f; then
    fio --output-format=json --output=$S/fio-restart.json --filename=/mnt/f/fio.dat \
        --ioengine=libaio --direct=1 --verify=crc32c --do_verify=1 --verify_fatal=1 \
        --name=restart --rw=randwrite --bs=4k --iodepth=16 --size=${FIO_SIZE_MB}M \
        > $S/fio-restart.txt 2>&1 &
    FIO=$!
    errors_before=$(dmesg | grep -c 'detected conn error')
    # A reservation that is to survive power loss (APTPL), held by us
    # (fio's writes come from the holder, so they do not conflict).
    { sg_persist --out --register --param-sark=0xa9791 --param-aptpl /dev/$DF &&
      sg_persist --out --reserve --param-rk=0xa9791 --prout-type=1 /dev/$DF; } > $S/aptpl.txt 2>&1; aptpl_rc=$?
    sleep 1
    host kill9-restart; answer=$ANSWER
    wait $FIO; frc=$?
    conn_errors=$(( $(dmesg | grep -c 'detected conn error') - errors_before ))
    sync
    umount /mnt/f
    fsck.ext4 -f -n /dev/$DF > $S/fsck-restart.txt 2>&1; fsck=$?
    if [ $frc = 0 ] && [ $fsck = 0 ]; then
      pass "host: $answer; the kernel saw $conn_errors connection errors and recovered the session; fio: $(fio_sum $S/fio-restart.json); fsck -f clean"
    else fail "host: $answer; fio exit $frc: $(tail -2 $S/fio-restart.txt | tr '\n' ' '); fsck exit $fsck"; fi
    NAME="APTPL, the persistent reservation survives the target's crash (sg_persist --param-aptpl)"
    { sg_persist --in --read-keys /dev/$DF && sg_persist --in --read-reservation /dev/$DF &&
      sg_persist --in --report-capabilities /dev/$DF; } >> $S/aptpl.txt 2>&1 || aptpl_rc=$?
    # "Persist Through Power Loss Active(PTPL_A): 1"
    ptpl_a=$(sed -n 's/.*PTPL_A)*[:=] *\([01]\).*/\1/p' $S/aptpl.txt | tail -1)
    if [ $aptpl_rc = 0 ] && grep -q '0xa9791' $S/aptpl.txt && grep -q 'Write Exclusive' $S/aptpl.txt && [ "$ptpl_a" = 1 ]; then
      pass "registered and reserved (Write Exclusive) with APTPL before the SIGKILL; after the restart key 0xa9791 and the reservation are back, PTPL_A=$ptpl_a"
    else fail "rc $aptpl_rc, PTPL_A=$ptpl_a: $(tail -4 $S/aptpl.txt | tr '\n' ' ')"; fi
    sg_persist --out --clear --param-rk=0xa9791 /dev/$DF > /dev/null 2>&1
  else fail "mkfs or mount failed"; fi
  # ------------------------------------------- SIGTERM: asked to log out
  NAME="target SIGTERM (open-iscsi logs out and back in)"
  host sigterm-restart; answer=$ANSWER
  back=
  for _ in $(seq 300); do
    if [ "$(session_state "$IQN_FILE")" = LOGGED_IN ] && dd if=/dev/$DF of=/dev/null bs=1M count=1 iflag=direct status=none 2>/dev/null; then back=1; break; fi
    sleep 0.2
  done
  if [ -n "$back" ]; then pass "host: $answer; session LOGGED_IN again and /dev/$DF readable at $(t) s"
  else fail "host: $answer; session state $(session_state "$IQN_FILE")"; fi

  # ------------------------------------ online resize (config + SIGHUP)
  NAME="online resize, the file LUN grows under the session (sg_readcap, rescan)"
  before=$(( $(cat /sys/block/$DF/size) / 2048 ))
  host grow-file; answer=$ANSWER
  # The next command meets CAPACITY DATA HAS CHANGED; sg_turs shows it.
  sg_turs -v /dev/$DF > $S/resize-turs.txt 2>&1
  sg_readcap /dev/$DF > $S/resize-readcap.txt 2>&1
  blocks=$(sed -n 's/.*Number of logical blocks=\([0-9]*\).*/\1/p' $S/resize-readcap.txt)
  # The kernel changes the disk's size on a rescan.
  iscsiadm -m node -T "$IQN_FILE" -p "$P" -R > /dev/null 2>&1
  sleep 0.5
  after=$(( $(cat /sys/block/$DF/size) / 2048 ))
  ua=$(grep -c -i 'capacity data has changed' $S/resize-turs.txt)
  dmesg | grep -i 'capacity' | tail -3 > $S/resize-dmesg.txt
  if [ "$blocks" = $((FILE_GROWN_MB * 2048)) ] && [ "$after" = "$FILE_GROWN_MB" ] \
     && dd if=/dev/$DF of=/dev/null bs=1M count=1 skip=$((FILE_GROWN_MB - 1)) iflag=direct status=none; then
    pass "host: $answer; $before MiB -> sg_readcap $blocks blocks, /dev/$DF $after MiB after rescan, last MiB readable (sg_turs saw the attention: $ua, kernel: $(tail -1 $S/resize-dmesg.txt | cut -c1-80))"
  else fail "host: $answer; before $before MiB, sg_readcap blocks=$blocks, after rescan $after MiB (want $FILE_GROWN_MB)"; fi
  logout "$IQN_FILE" > /dev/null 2>&1
else fail "$(tail -2 $S/login-file.txt | tr '\n' ' ')"; fi

# ------------------------- dm-multipath over both portal groups with ALUA
NAME="dm-multipath with ALUA over both portal groups survives the loss of the optimized path"
# multipath-tools finds paths through udev: start it for this check.
/lib/systemd/systemd-udevd --daemon > /dev/null 2>&1
udevadm trigger > /dev/null 2>&1; udevadm settle -t 20
modprobe dm_multipath; modprobe dm_round_robin; modprobe scsi_dh_alua
for p in "$P" "$P2"; do
  iscsiadm -m node -T "$IQN_RAM" -p "$p" -o new > /dev/null 2>&1
  for kv in node.session.timeo.replacement_timeout=5 node.conn[0].timeo.noop_out_interval=2 \
            node.conn[0].timeo.noop_out_timeout=2; do
    iscsiadm -m node -T "$IQN_RAM" -p "$p" -o update -n "${kv%%=*}" -v "${kv#*=}"
  done
done
cat > /etc/multipath.conf <<'CONF'
defaults {
  user_friendly_names yes
  find_multipaths no
  polling_interval 1
}
devices {
  device {
    vendor "RSISCSI"
    product ".*"
    path_grouping_policy group_by_prio
    prio alua
    hardware_handler "1 alua"
    path_selector "round-robin 0"
    path_checker tur
    failback immediate
    no_path_retry queue
  }
}
CONF
ok=0
if iscsiadm -m node -T "$IQN_RAM" -p "$P" --login > $S/mp-login.txt 2>&1 \
   && iscsiadm -m node -T "$IQN_RAM" -p "$P2" --login >> $S/mp-login.txt 2>&1; then
  udevadm settle -t 20
  M1=$(disk_via "$IQN_RAM" "$P"); M2=$(disk_via "$IQN_RAM" "$P2")
  multipath -v2 > $S/mp-create.txt 2>&1
  multipathd -d -s -v2 > $S/multipathd.log 2>&1 &
  MPD=$!
  sleep 3
  multipath -ll > $S/mp-before.txt 2>&1
  MAP=$(awk 'NR==1{print $1}' $S/mp-before.txt)
  # The optimized path (group 1, prio 50) leads, the other waits (prio 10).
  before=$(multipathd show paths format "%d %p %t %T" 2>/dev/null | tr -s ' ' | tr '\n' ';')
  dd if=/dev/urandom of=/tmp/mp.dat bs=1M count=4 status=none
  # The optimized path's portal is cut (in the guest's firewall); the
  # write must go through on the other path.
  nft add table inet cut && nft add chain inet cut out '{ type filter hook output priority 0; }' \
    && nft add rule inet cut out ip daddr 10.0.2.2 tcp dport $PORT drop
  t0=$(t)
  dd if=/tmp/mp.dat of=/dev/mapper/$MAP bs=1M seek=64 oflag=direct status=none; wrc=$?
  t1=$(t)
  during=$(multipathd show paths format "%d %p %t %T" 2>/dev/null | tr -s ' ' | tr '\n' ';')
  nft delete table inet cut
  # Fail back: the path to group 1 comes back to work.
  back=
  for _ in $(seq 60); do
    st=$(multipathd show paths format "%d %t %T" 2>/dev/null | awk -v d="$M1" '$1==d{print $2 "/" $3}')
    [ "$st" = "active/ready" ] && { back=1; break; }
    sleep 0.5
  done
  after=$(multipathd show paths format "%d %p %t %T" 2>/dev/null | tr -s ' ' | tr '\n' ';')
  multipath -ll > $S/mp-after.txt 2>&1
  dd if=/dev/mapper/$MAP bs=1M skip=64 count=4 iflag=direct status=none | cmp -s - /tmp/mp.dat; same=$?
  echo "paths $M1 ($P) $M2 ($P2); before: $before during: $during after: $after; write rc $wrc in $t0..$t1 s; read back same=$same" > $S/mp-summary.txt
  case "$before" in *"$M1 50 active ready"*"$M2 10 active ready"*|*"$M2 10 active ready"*"$M1 50 active ready"*) b=1 ;; *) b=0 ;; esac
  case "$during" in *"$M1 "[0-9]*" failed faulty"*) d=1 ;; *) d=0 ;; esac
  if [ -n "$MAP" ] && [ $b = 1 ] && [ $d = 1 ] && [ $wrc = 0 ] && [ -n "$back" ] && [ $same = 0 ]; then
    pass "$MAP over $M1 (group 1, prio 50) and $M2 (group 2, prio 10); $P cut: $M1 failed, 4 MiB written through $M2 in $t0..$t1 s; restored: $M1 active/ready again ($after), data read back equal"
  else fail "$(cat $S/mp-summary.txt)"; fi
  multipath -F > /dev/null 2>&1
  kill $MPD 2>/dev/null; wait $MPD 2>/dev/null
else fail "login through both portals: $(tail -2 $S/mp-login.txt | tr '\n' ' ')"; fi
iscsiadm -m node -T "$IQN_RAM" -p "$P2" --logout > /dev/null 2>&1
logout "$IQN_RAM" > /dev/null 2>&1
udevadm control --exit > /dev/null 2>&1

# -------------------------------------------- no session left on the target
NAME="no session left after logout"
iscsiadm -m node -U all > /dev/null 2>&1
host connections; left=$ANSWER
if [ "$left" = 0 ]; then pass "the target holds 0 connections"
else fail "the target still holds $left connections"; fi

say "job end, $FAILS failed"
[ $FAILS = 0 ]
