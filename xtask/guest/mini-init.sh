#!/bin/busybox sh
# /init of the small initramfs the interop guest boots with: load virtio
# and ext4, mount /dev/vda (the root image), hand over to its /init.
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.list); do insmod "/$m" 2>/dev/null; done
for _ in $(seq 100); do [ -b /dev/vda ] && break; sleep 0.05; done
mount -t ext4 /dev/vda /newroot || { echo "mini-init: cannot mount /dev/vda"; sleep 2; poweroff -f; }
umount /dev /sys /proc
exec switch_root /newroot /init
