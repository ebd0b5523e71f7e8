// seccomp_default.go: Docker's default seccomp profile, as data.
//
// Every container runs under this profile unless `--security-opt seccomp=unconfined` or
// `seccomp=PROFILE.json` says otherwise (seccomp.go resolves it for the container's capabilities and
// writes it into config.json; seccomp_bpf.go assembles and installs it). The facts are Docker's: the
// system calls, the capability each gated call needs, the safe personality values, the socket families,
// the clone flags. They come from moby's default.json (github.com/moby/profiles, seccomp/default.json,
// 2025; before the profile moved it was profiles/seccomp/default.json in moby/moby), written here in our
// own form. Where we differ from Docker, a comment says so.
//
// The shape: an allow-list. Any call not allowed fails with EPERM, as if the container lacked a
// privilege; notable among those refused are keyctl, add_key and request_key (the kernel keyring is not
// namespaced), kexec_load, userfaultfd, and anything that needs a capability the container does not have.
package main

import (
	"strings"

	"golang.org/x/sys/unix"
)

// defaultSeccompProfile builds the profile afresh at each call, so a caller may change what it gets.
func defaultSeccompProfile() *seccompProfile {
	profile := &seccompProfile{DefaultAction: "SCMP_ACT_ERRNO", DefaultErrnoRet: errnoValue(unix.EPERM)}
	allow := func(names string, includes, excludes seccompFilter, args ...SeccompArg) {
		profile.Syscalls = append(profile.Syscalls, seccompRule{
			Names: strings.Fields(names), Action: "SCMP_ACT_ALLOW", Args: args, Includes: includes, Excludes: excludes,
		})
	}
	onlyWith := func(capability string) seccompFilter { return seccompFilter{Caps: []string{capability}} }
	onlyOn := func(arches ...string) seccompFilter { return seccompFilter{Arches: arches} }
	always := seccompFilter{}

	// What every program needs, and what is harmless in a namespaced, capability-limited container.
	// Names of other architectures (chown32, _llseek, ...) are skipped where the table lacks them.
	allow(`
		accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown chown32
		clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
		clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3
		epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old
		eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate
		fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync
		fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync
		ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat
		getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups
		getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
		getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt
		get_thread_area gettid gettimeofday getuid getuid32 getxattr getxattrat inotify_add_watch inotify_init
		inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
		io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule
		landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listmount
		listxattr listxattrat llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise
		map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2
		mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64
		mq_timedsend mq_timedsend_time64 mq_unlink mremap mseal msgctl msgget msgrcv msgsnd msync munlock
		munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause
		pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64
		prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev
		pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg
		remap_file_pages removexattr removexattrat rename renameat renameat2 restart_syscall riscv_hwprobe
		rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
		rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam
		sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
		sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler
		sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64
		sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32
		setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid
		setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32
		setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask
		sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statmount statx symlink symlinkat
		sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun
		timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime
		timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask
		uname unlink unlinkat uretprobe utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid
		waitpid write writev
	`, always, always)

	// Since Linux 4.8 ptrace can no longer be used to get around a seccomp filter, so Docker allows it.
	allow("process_vm_readv process_vm_writev ptrace", seccompFilter{MinKernel: "4.8"}, always)

	// socket(2) for the address families in common use. Refused, as Docker refuses them: AF_ALG (38, the
	// kernel's crypto API, a steady source of kernel bugs reachable without privilege), AF_VSOCK (40, a
	// channel to the hypervisor) and the rare or obsolete families (DECnet, Econet, ATM SVC, IrDA,
	// WANPIPE, ISDN, CAIF) whose code has had the same kind of bugs with few users to notice.
	allow("socket", always, always, SeccompArg{Index: 0, Value: 12, Op: "SCMP_CMP_LT"})
	for _, family := range []uint64{13, 14, 15, 16, 17, 18, 21, 22, 24, 26, 27, 28, 29, 30, 31, 32, 33, 35, 36, 39, 41, 42, 43, 44, 45} {
		allow("socket", always, always, SeccompArg{Index: 0, Value: family, Op: "SCMP_CMP_EQ"})
	}

	// personality(2) only with the values programs really use: PER_LINUX (0), PER_LINUX with
	// UNAME26 (0x20000) and/or PER_LINUX32 (8), and 0xffffffff, which only asks for the current one.
	// Others, such as READ_IMPLIES_EXEC or ADDR_NO_RANDOMIZE, would weaken the protections of what
	// the container executes next.
	for _, persona := range []uint64{0, 8, 0x20000, 0x20008, 0xffffffff} {
		allow("personality", always, always, SeccompArg{Index: 0, Value: persona, Op: "SCMP_CMP_EQ"})
	}

	// Calls of one architecture only.
	allow("sync_file_range2 swapcontext", onlyOn("ppc64le"), always)
	allow("arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls", onlyOn("arm", "arm64"), always)
	allow("arch_prctl", onlyOn("amd64", "x32"), always)
	allow("modify_ldt", onlyOn("amd64", "x32", "x86"), always)
	allow("s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr", onlyOn("s390", "s390x"), always)
	allow("riscv_flush_icache", onlyOn("riscv64"), always)

	// Calls that need a capability the default set does not have: allowed only to a container given it.
	allow("open_by_handle_at", onlyWith("CAP_DAC_READ_SEARCH"), always) // the "shocker" escape of 2014
	allow(`bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie lsm_get_self_attr
		lsm_list_modules lsm_set_self_attr mount mount_setattr move_mount open_tree perf_event_open quotactl
		quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare`, onlyWith("CAP_SYS_ADMIN"), always)
	// Without CAP_SYS_ADMIN, clone(2) may make threads and processes but no namespaces: the flags
	// CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET (0x7e020000) must all be clear. (s390
	// passes the flags second; Docker's profile has a rule for that, which we leave out with s390.)
	allow("clone", always, seccompFilter{Caps: []string{"CAP_SYS_ADMIN"}},
		SeccompArg{Index: 0, Value: 0x7e020000, ValueTwo: 0, Op: "SCMP_CMP_MASKED_EQ"})
	// clone3(2) passes its flags in memory, which a filter cannot read: without CAP_SYS_ADMIN it fails
	// with ENOSYS, as if the kernel were too old, so that glibc falls back to clone(2) above.
	profile.Syscalls = append(profile.Syscalls, seccompRule{
		Names: []string{"clone3"}, Action: "SCMP_ACT_ERRNO", ErrnoRet: errnoValue(unix.ENOSYS),
		Excludes: seccompFilter{Caps: []string{"CAP_SYS_ADMIN"}},
	})
	allow("reboot", onlyWith("CAP_SYS_BOOT"), always)
	allow("chroot", onlyWith("CAP_SYS_CHROOT"), always)
	allow("delete_module init_module finit_module", onlyWith("CAP_SYS_MODULE"), always)
	allow("acct", onlyWith("CAP_SYS_PACCT"), always)
	allow("kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace", onlyWith("CAP_SYS_PTRACE"), always)
	allow("iopl ioperm", onlyWith("CAP_SYS_RAWIO"), always)
	allow("settimeofday stime clock_settime clock_settime64", onlyWith("CAP_SYS_TIME"), always)
	allow("vhangup", onlyWith("CAP_SYS_TTY_CONFIG"), always)
	allow("get_mempolicy mbind set_mempolicy set_mempolicy_home_node", onlyWith("CAP_SYS_NICE"), always)
	allow("syslog", onlyWith("CAP_SYSLOG"), always)
	allow("bpf", onlyWith("CAP_BPF"), always)
	allow("perf_event_open", onlyWith("CAP_PERFMON"), always)
	return profile
}
