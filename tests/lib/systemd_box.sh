# SPDX-License-Identifier: GPL-2.0-only
#
# A systemd of its own for tests that must run a unit under the real
# service manager on a machine whose PID 1 is not systemd (or must not be
# touched): /lib/systemd/systemd as PID 1 of a new PID, mount, UTS and
# cgroup namespace, in cgroups made for it (pst-box-<pid> in every mounted
# hierarchy, with the cgroup file systems mounted again inside so that
# its root is that cgroup). It shares the host's files, so nothing of the
# boot may run: every unit sysinit.target and the other early targets
# want is masked (systemd-tmpfiles-setup would empty the host's /tmp,
# systemd-sysctl set the host's sysctls, systemd-sysusers write its
# /etc/group), /etc and /usr are read-only, and /run, /tmp, /var/tmp,
# /etc/systemd/system, /var/lib and /var/log are tmpfs of the box's own.
# It boots pst-box.target, which wants nothing: units are started by hand
# (give them DefaultDependencies=no as well). Sourced by bash:
#
#   . tests/lib/systemd_box.sh
#   ps_box_start DIR              # DIR: the test's work directory
#   ps_box_put NAME < FILE        # a unit (or NAME.d/x.conf) in /etc/systemd/system
#   ps_box systemctl start penstockd
#   ps_box_stop                   # kill it, remove its cgroups
#
# ps_box CMD... runs CMD in the box's mount and PID namespaces, with its
# /run (and the host's /run/netns). The box's PID 1 (host pid) is
# PS_BOX_PID.

PS_BOX_PID=""
PS_BOX_CGS=()
PS_BOX_LOG=""

ps_box() { nsenter -t "$PS_BOX_PID" -m -p "$@"; }

ps_box_put() { ps_box sh -c 'mkdir -p "$(dirname "/etc/systemd/system/$1")"; cat >"/etc/systemd/system/$1"' _ "$1"; }

ps_box_start() {
	local dir=$1 h i name=pst-box-$$
	PS_BOX_LOG=$dir/box.log
	# Cgroups of its own in every hierarchy the host mounts (cpuset's
	# would need its cpus and mems set first: the box stays in the
	# host's there).
	for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
		[ -e "$h/cgroup.procs" ] || continue
		case $h in */cpuset/) continue ;; esac
		mkdir -p "$h$name" && PS_BOX_CGS+=("$h$name")
	done
	cat >"$dir/box-init.sh" <<'EOF'
set -e
cgs=$1
for cg in $cgs; do echo $$ >"$cg/cgroup.procs"; done
exec unshare --pid --fork --mount --uts --cgroup --propagation private sh -c '
set -e
mount -t proc proc /proc
# The cgroup file systems again, rooted at this cgroup namespace.
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
	umount -R /sys/fs/cgroup
	mount -t cgroup2 cgroup2 /sys/fs/cgroup
else
	hier=$(for d in /sys/fs/cgroup/*/; do d=${d%/}; echo "${d##*/}"; done)
	umount -R /sys/fs/cgroup
	mount -t tmpfs -o mode=0755 tmpfs /sys/fs/cgroup
	for h in $hier; do
		mkdir /sys/fs/cgroup/$h
		case $h in
		systemd) mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/$h ;;
		unified) mount -t cgroup2 cgroup2 /sys/fs/cgroup/$h ;;
		*) mount -t cgroup -o $h cgroup /sys/fs/cgroup/$h ;;
		esac
	done
fi
# The host'"'"'s network namespaces stay reachable (NetworkNamespacePath=).
[ -d /run/netns ] && mount --rbind /run/netns /mnt
for d in /etc /usr; do mount --bind $d $d; mount -o remount,bind,ro $d; done
for d in /run /tmp /var/tmp /etc/systemd/system /var/lib /var/log; do
	mount -t tmpfs -o mode=0755 tmpfs $d
done
chmod 1777 /tmp /var/tmp
mkdir -p /run/netns
mountpoint -q /mnt && mount --move /mnt /run/netns
mkdir -p /run/systemd/system
cd /etc/systemd/system
printf "[Unit]\nDescription=penstock test box\n" >pst-box.target
# Nothing of a boot: the early targets empty, what they want masked.
for t in sysinit basic local-fs local-fs-pre swap sockets timers paths cryptsetup \
	veritysetup integritysetup slices; do
	printf "[Unit]\nDescription=%s (empty in the test box)\n" $t >$t.target
	for w in /lib/systemd/system/$t.target.wants/* /etc/systemd/system/$t.target.wants/*; do
		[ -e "$w" ] || [ -L "$w" ] && ln -sf /dev/null "${w##*/}"
	done
done
for u in systemd-tmpfiles-setup.service systemd-tmpfiles-setup-dev.service \
	systemd-tmpfiles-clean.service systemd-tmpfiles-clean.timer systemd-sysctl.service \
	systemd-sysusers.service systemd-journald.service systemd-journald.socket \
	systemd-journald-dev-log.socket systemd-udevd.service systemd-remount-fs.service \
	systemd-random-seed.service systemd-update-utmp.service systemd-modules-load.service \
	systemd-binfmt.service systemd-firstboot.service systemd-machine-id-commit.service; do
	ln -sf /dev/null $u
done
cd /
exec env container=penstock-test /lib/systemd/systemd --system --unit=pst-box.target \
	--log-target=console --log-level=notice
'
EOF
	( exec sh "$dir/box-init.sh" "${PS_BOX_CGS[*]}" ) >"$PS_BOX_LOG" 2>&1 </dev/null &
	PS_BOX_OUTER=$!
	# PID 1 of the box: the systemd whose parent is the unshare we started
	# (box-init.sh execs it).
	for ((i = 0; i < 100; i++)); do
		PS_BOX_PID=$(pgrep -P "$PS_BOX_OUTER" -x systemd || true)
		if [ -n "$PS_BOX_PID" ] &&
			[ "$(ps_box systemctl is-system-running 2>/dev/null)" = running ]; then
			return 0
		fi
		kill -0 "$PS_BOX_OUTER" 2>/dev/null || break
		sleep 0.1
	done
	echo "systemd box did not come up: $(tail -n 5 "$PS_BOX_LOG" | tr '\n' ' ')" >&2
	return 1
}

ps_box_stop() {
	local i cg=""
	# PID 1 of a PID namespace dies of SIGKILL from outside, and every
	# process of the box with it; then unshare exits.
	if [ -n "$PS_BOX_PID" ]; then kill -KILL "$PS_BOX_PID" 2>/dev/null || true; fi
	if [ -n "${PS_BOX_OUTER:-}" ]; then
		kill -KILL "$PS_BOX_OUTER" 2>/dev/null || true
		wait "$PS_BOX_OUTER" 2>/dev/null || true
		PS_BOX_OUTER=""
	fi
	PS_BOX_PID=""
	# The cgroups empty once every process of the box is gone.
	for ((i = 0; i < 50; i++)); do
		for cg in "${PS_BOX_CGS[@]}"; do
			if [ -d "$cg" ]; then find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true; fi
		done
		for cg in "${PS_BOX_CGS[@]}"; do [ -d "$cg" ] && break; done
		[ -d "$cg" ] || break
		sleep 0.1
	done
	PS_BOX_CGS=()
	return 0
}
