#!/usr/bin/env bash
# Builds hvagent's tiny bootable test guest from Debian packages: the cloud
# kernel (linux-image-cloud-amd64, downloaded, never installed on the host)
# and a busybox-static initramfs whose /init is testdata/guest/init.
#
# Usage: scripts/guest-image.sh [--data-dir DIR] [--config FILE] [OUT]
#        scripts/guest-image.sh [--data-dir DIR] [--config FILE] --print-data-dir
#
# OUT (default <data_dir>/images/testguest, the data dir resolved as hvagentd
# resolves it) receives vmlinuz, initrd.img and manifest.json (versions,
# sha256 sums and the recipe key). A run whose inputs (this script, the files
# of testdata/guest, the kernel and busybox package versions) match OUT's
# manifest does nothing. OUT is replaced by a rename, so an interrupted build
# never leaves a half image; concurrent runs on the same OUT wait for each
# other (flock on OUT's .lock file). It prints OUT. --print-data-dir only
# prints the data dir.
#
# Environment: HVAGENT_DEB_CACHE, where downloaded .deb files are kept
# (default ${XDG_CACHE_HOME:-~/.cache}/hvagent/debs).
set -euo pipefail

readonly KERNEL_META=linux-image-cloud-amd64
readonly BUSYBOX_PKG=busybox-static
# Kernel modules the init loads (their dependencies are added): the ACPI power
# button, evdev (how acpid reads it) and virtio block disks.
readonly MODULES=(button evdev virtio_pci virtio_blk)

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT="$script_dir/$(basename "${BASH_SOURCE[0]}")"
readonly RECIPE_DIR="$script_dir/../testdata/guest"

die() { echo "guest-image: $*" >&2; exit 1; }
log() { echo "guest-image: $*" >&2; }

usage() {
	sed -n '2,/^set -euo/p' "$SCRIPT" | sed '$d; s/^# \{0,1\}//'
}

# hvagent_data_dir prints the data dir exactly as hvagentd resolves it:
# --data-dir, else $HVAGENT_DATA_DIR (when not empty), else data_dir of the
# config file (--config, else $HVAGENT_CONFIG), else /var/lib/hvagent as root,
# else $XDG_STATE_HOME/hvagent (when absolute), else ~/.local/state/hvagent,
# else $TMPDIR/hvagent-<uid>. A relative dir is made absolute against the
# current directory, without resolving symlinks.
# Arguments: the --data-dir value and the --config value ("" when not given).
hvagent_data_dir() {
	local flag_dir=$1 config=${2:-${HVAGENT_CONFIG:-}} dir=""
	if [ -n "$flag_dir" ]; then
		dir=$flag_dir
	elif [ -n "${HVAGENT_DATA_DIR:-}" ]; then
		dir=$HVAGENT_DATA_DIR
	elif [ -n "$config" ]; then
		[ -f "$config" ] || die "config file $config: no such file"
		need_tools jq
		dir=$(jq -r 'if type == "object" and (.data_dir | type) == "string" then .data_dir else "" end' "$config") ||
			die "config file $config: not a JSON object"
	fi
	if [ -z "$dir" ]; then
		local uid
		uid=$(id -u)
		if [ "$uid" -eq 0 ]; then
			dir=/var/lib/hvagent
		elif [[ "${XDG_STATE_HOME:-}" == /* ]]; then
			dir=$XDG_STATE_HOME/hvagent
		elif [ -n "${HOME:-}" ]; then
			dir=$HOME/.local/state/hvagent
		else
			dir=${TMPDIR:-/tmp}/hvagent-$uid
		fi
	fi
	realpath -m -s -- "$dir"
}

# need_tools installs the Debian packages named that are not installed.
need_tools() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing missing packages: ${missing[*]}"
	as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || {
		as_root apt-get update -qq >&2
		as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
	} || die "cannot install ${missing[*]}"
}

# as_root runs a command as root, through sudo when not root.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		DEBIAN_FRONTEND=noninteractive "$@"
	elif command -v sudo >/dev/null; then
		sudo DEBIAN_FRONTEND=noninteractive "$@"
	else
		die "need root (or sudo) to run: $*"
	fi
}

# kernel_package prints the versioned kernel package the cloud metapackage
# depends on, and its candidate version: "<package> <version>".
kernel_package() {
	local pkg ver
	pkg=$(apt-cache depends "$KERNEL_META" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}') || true
	if [ -z "$pkg" ]; then
		log "no $KERNEL_META in the apt lists: running apt-get update"
		as_root apt-get update -qq >&2 || die "apt-get update failed"
		pkg=$(apt-cache depends "$KERNEL_META" | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}')
		[ -n "$pkg" ] || die "cannot resolve the kernel package $KERNEL_META depends on"
	fi
	ver=$(apt-cache policy "$pkg" | awk '$1 == "Candidate:" {print $2}')
	[ -n "$ver" ] && [ "$ver" != "(none)" ] || die "no candidate version of $pkg"
	echo "$pkg $ver"
}

# apt_stamp prints a digest of what apt-cache's answers depend on: the
# package lists and the apt preferences (names, sizes, modification times).
apt_stamp() {
	# stat fails for the files that do not exist, and lists the others.
	{ stat -c '%n %s %Y' /var/lib/apt/lists/*_Packages* /etc/apt/preferences /etc/apt/preferences.d/* 2>/dev/null || true; } |
		sha256sum | cut -d' ' -f1
}

# recipe_key prints the sha256 of everything the image is built from.
recipe_key() {
	local kpkg=$1 kver=$2 bver=$3
	{
		echo "kernel $kpkg $kver"
		echo "busybox $BUSYBOX_PKG $bver"
		echo "modules ${MODULES[*]}"
		sha256sum "$SCRIPT" | cut -d' ' -f1
		(cd "$RECIPE_DIR" && find . -type f | LC_ALL=C sort | xargs sha256sum)
	} | sha256sum | cut -d' ' -f1
}

# fetch_kernel prints the path of the kernel package's .deb, downloading it
# into the deb cache when it is not there.
fetch_kernel() {
	local pkg=$1 ver=$2 cache deb
	cache=${HVAGENT_DEB_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/hvagent/debs}
	mkdir -p "$cache"
	deb="$cache/${pkg}_${ver//:/%3a}_amd64.deb"
	if [ ! -s "$deb" ]; then
		log "downloading $pkg=$ver"
		local tmp
		tmp=$(mktemp -d "$cache/.download.XXXXXX")
		# -o APT::Sandbox::User=root: the _apt user may not write to tmp.
		(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver" >&2) ||
			{ rm -rf "$tmp"; die "apt-get download $pkg=$ver failed"; }
		mv "$tmp"/*.deb "$deb"
		rm -rf "$tmp"
		# Only the current kernel is needed again: drop the ones it replaces.
		find "$cache" -maxdepth 1 -name 'linux-image-*.deb' ! -path "$deb" -delete
	fi
	echo "$deb"
}

# module_order prints, for the modules named, the module file names (without
# .ko) in load order, dependencies first, read from each module's depends=.
module_order() {
	local moddir=$1 seen=" " order=()
	shift
	visit() {
		local name=$1 file deps d
		case "$seen" in *" $name "*) return 0 ;; esac
		seen+="$name "
		file=$(find "$moddir" -name "$name.ko" -print -quit)
		[ -n "$file" ] || die "kernel module $name.ko not in the kernel package"
		deps=$(tr '\0' '\n' <"$file" | grep -a -m1 '^depends=' | cut -d= -f2)
		for d in ${deps//,/ }; do visit "$d"; done
		order+=("$name")
	}
	local m
	for m in "$@"; do visit "$m"; done
	printf '%s\n' "${order[@]}"
}

# build_image builds vmlinuz, initrd.img and manifest.json into out.
build_image() {
	local out=$1 deb=$2 kpkg=$3 kver=$4 bver=$5 key=$6
	local work=$out/.work root=$out/.work/root kroot=$out/.work/kernel
	mkdir -p "$root" "$kroot"
	dpkg-deb -x "$deb" "$kroot"
	local release
	release=$(basename "$(find "$kroot/lib/modules" -mindepth 1 -maxdepth 1 -type d -print -quit)")
	[ -n "$release" ] || die "no /lib/modules/<release> in $deb"
	cp "$kroot/boot/vmlinuz-$release" "$out/vmlinuz"

	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/acpi/PWRF,lib/modules,proc,sys,dev,tmp,root}
	cp /bin/busybox "$root/bin/busybox"
	local applet
	for applet in $(/bin/busybox --list-full); do
		[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
	done
	install -m 0755 "$RECIPE_DIR/init" "$root/init"
	install -m 0755 "$RECIPE_DIR/poweroff" "$root/etc/acpi/PWRF/00000080"
	local mods m
	mods=$(module_order "$kroot/lib/modules/$release" "${MODULES[@]}")
	for m in $mods; do
		cp "$(find "$kroot/lib/modules/$release" -name "$m.ko" -print -quit)" "$root/lib/modules/$m.ko"
	done
	echo "$mods" >"$root/etc/modules"
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet | gzip -9 -n) >"$out/initrd.img"
	rm -rf "$work"

	write_manifest "$out" "$kpkg" "$kver" "$release" "$bver" "$key" "$mods"
}

# write_manifest writes out/manifest.json.
write_manifest() {
	local out=$1 kpkg=$2 kver=$3 release=$4 bver=$5 key=$6 mods=$7
	local vsum isum modjson
	vsum=$(sha256sum "$out/vmlinuz" | cut -d' ' -f1)
	isum=$(sha256sum "$out/initrd.img" | cut -d' ' -f1)
	modjson=$(printf '"%s",' $mods)
	cat >"$out/manifest.json" <<-EOF
	{
	  "recipe_key": "$key",
	  "apt_stamp": "$(apt_stamp)",
	  "kernel": {"package": "$kpkg", "version": "$kver", "release": "$release", "sha256": "$vsum"},
	  "busybox": {"package": "$BUSYBOX_PKG", "version": "$bver"},
	  "modules": [${modjson%,}],
	  "initrd": {"sha256": "$isum"},
	  "built_at": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	}
	EOF
}

# up_to_date reports whether out holds a complete image built from key.
up_to_date() {
	local out=$1 key=$2
	[ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ] && [ -s "$out/manifest.json" ] &&
		grep -q "\"recipe_key\": \"$key\"" "$out/manifest.json"
}

main() {
	local flag_dir="" config="" out="" print_data_dir=""
	while [ $# -gt 0 ]; do
		case "$1" in
		--data-dir) [ $# -ge 2 ] || die "--data-dir needs a value"; flag_dir=$2; shift 2 ;;
		--data-dir=*) flag_dir=${1#*=}; shift ;;
		--config | -c) [ $# -ge 2 ] || die "$1 needs a value"; config=$2; shift 2 ;;
		--config=*) config=${1#*=}; shift ;;
		--print-data-dir) print_data_dir=1; shift ;;
		-h | --help) usage; exit 0 ;;
		-*) die "unknown option $1 (see --help)" ;;
		*) [ -z "$out" ] || die "more than one output dir given: $out, $1"; out=$1; shift ;;
		esac
	done
	if [ -n "$print_data_dir" ]; then
		[ -z "$out" ] || die "--print-data-dir takes no output dir"
		hvagent_data_dir "$flag_dir" "$config"
		return 0
	fi
	[ -f "$RECIPE_DIR/init" ] || die "recipe $RECIPE_DIR/init not found"
	if [ -z "$out" ]; then
		out="$(hvagent_data_dir "$flag_dir" "$config")/images/testguest"
	fi
	out=$(realpath -m -s -- "$out")

	need_tools "$BUSYBOX_PKG" cpio gzip
	local kpkg="" kver="" bver key stamp
	bver=$(dpkg-query -W -f='${Version}' "$BUSYBOX_PKG")
	stamp=$(apt_stamp)
	# apt-cache takes about a second: with the apt lists and preferences
	# unchanged since the last build, its answer is the one in the manifest.
	if [ -s "$out/manifest.json" ] && grep -q "\"apt_stamp\": \"$stamp\"" "$out/manifest.json"; then
		read -r kpkg kver < <(sed -n 's/.*"kernel": {"package": "\([^"]*\)", "version": "\([^"]*\)".*/\1 \2/p' "$out/manifest.json")
	fi
	if [ -z "$kver" ]; then
		read -r kpkg kver < <(kernel_package)
		[ -n "$kver" ] || die "cannot resolve the kernel package"
	fi
	key=$(recipe_key "$kpkg" "$kver" "$bver")
	if up_to_date "$out" "$key"; then
		echo "$out"
		return 0
	fi

	local parent name
	parent=$(dirname "$out")
	name=$(basename "$out")
	mkdir -p "$parent" || die "cannot create $parent, the parent of $out"
	exec 9>"$parent/.$name.lock"
	flock 9
	# Another run may have built it while this one waited for the lock.
	if up_to_date "$out" "$key"; then
		echo "$out"
		return 0
	fi
	# Holding the lock, any temp dir left is from an interrupted run.
	rm -rf "$parent/.$name.tmp."* "$parent/.$name.old."*

	local deb
	if ! deb=$(fetch_kernel "$kpkg" "$kver"); then
		# The security mirror drops a kernel once an update replaces it:
		# refresh the lists and resolve the kernel again.
		log "refreshing the apt lists and resolving $KERNEL_META again"
		as_root apt-get update -qq >&2 || die "apt-get update failed"
		read -r kpkg kver < <(kernel_package)
		[ -n "$kver" ] || die "cannot resolve the kernel package"
		key=$(recipe_key "$kpkg" "$kver" "$bver")
		if up_to_date "$out" "$key"; then
			echo "$out"
			return 0
		fi
		deb=$(fetch_kernel "$kpkg" "$kver")
	fi
	tmp=$(mktemp -d "$parent/.$name.tmp.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	log "building the test guest into $out ($kpkg $kver, $BUSYBOX_PKG $bver)"
	build_image "$tmp" "$deb" "$kpkg" "$kver" "$bver" "$key"
	chmod 0755 "$tmp"
	if [ -e "$out" ]; then
		mv -T "$out" "$parent/.$name.old.$$"
	fi
	mv -T "$tmp" "$out"
	trap - EXIT
	rm -rf "$parent/.$name.old.$$"
	echo "$out"
}

tmp="" # the build's temp dir, removed on exit
main "$@"
