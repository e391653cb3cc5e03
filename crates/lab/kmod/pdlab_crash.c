// SPDX-License-Identifier: GPL-2.0
/*
 * pdlab_crash: crash triggers for panicdump's QEMU lab (test only).
 *
 * This module is built by the lab against the guest kernel's headers and
 * loaded only inside throw-away lab guests. It is never linked into
 * panicdump or shipped with it: the GPL-2.0 MODULE_LICENSE below is what a
 * kernel module must declare to use the kernel's GPL-only symbols
 * (kthread_run), and it does not extend to the rest of the project.
 *
 * Write a trigger name to /sys/module/pdlab_crash/parameters/trigger:
 *   oops       NULL pointer write in process context
 *   bug        BUG()
 *   warn       WARN() (panics with kernel.panic_on_warn=1)
 *   softlockup a kthread spinning with preemption disabled
 *   hungtask   a kthread sleeping in TASK_UNINTERRUPTIBLE forever
 *   flood      flood_threads kthreads calling printk in a loop
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/delay.h>
#include <linux/string.h>
#include <linux/bug.h>

static int flood_threads = 4;
module_param(flood_threads, int, 0444);
MODULE_PARM_DESC(flood_threads, "kthreads started by the flood trigger");

static int pdlab_spin(void *unused)
{
	pr_info("pdlab_crash: spinning with preemption disabled\n");
	preempt_disable();
	for (;;)
		cpu_relax();
	return 0;
}

static int pdlab_hang(void *unused)
{
	pr_info("pdlab_crash: sleeping uninterruptibly forever\n");
	for (;;) {
		set_current_state(TASK_UNINTERRUPTIBLE);
		schedule();
	}
	return 0;
}

static int pdlab_flood(void *arg)
{
	unsigned long n = 0;
	long id = (long)arg;

	for (;;) {
		pr_info("pdlab_crash: flood thread %ld line %lu: the quick brown fox jumps over the lazy dog\n",
			id, n++);
		if ((n & 63) == 0)
			cond_resched();
	}
	return 0;
}

static noinline void pdlab_oops(void)
{
	int *volatile p = NULL;

	*p = 0x70646c62;
}

static noinline void pdlab_bug(void)
{
	BUG();
}

static noinline void pdlab_warn(void)
{
	WARN(1, "pdlab_crash: warning requested\n");
}

static int pdlab_trigger_set(const char *val, const struct kernel_param *kp)
{
	char what[16];
	long i;

	strscpy(what, val, sizeof(what));
	strim(what);
	pr_info("pdlab_crash: trigger %s\n", what);
	if (!strcmp(what, "oops")) {
		pdlab_oops();
	} else if (!strcmp(what, "bug")) {
		pdlab_bug();
	} else if (!strcmp(what, "warn")) {
		pdlab_warn();
	} else if (!strcmp(what, "softlockup")) {
		kthread_run(pdlab_spin, NULL, "pdlab-spin");
	} else if (!strcmp(what, "hungtask")) {
		kthread_run(pdlab_hang, NULL, "pdlab-hung");
	} else if (!strcmp(what, "flood")) {
		for (i = 0; i < flood_threads; i++)
			kthread_run(pdlab_flood, (void *)i, "pdlab-flood/%ld", i);
	} else {
		return -EINVAL;
	}
	return 0;
}

static const struct kernel_param_ops pdlab_trigger_ops = {
	.set = pdlab_trigger_set,
	.get = NULL,
};
module_param_cb(trigger, &pdlab_trigger_ops, NULL, 0200);
MODULE_PARM_DESC(trigger, "oops, bug, warn, softlockup, hungtask or flood");

MODULE_DESCRIPTION("panicdump lab crash triggers (test only)");
MODULE_LICENSE("GPL");
