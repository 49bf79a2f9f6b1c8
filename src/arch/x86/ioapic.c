// SPDX-License-Identifier: BSD-2-Clause
/*
 * x86 I/O APIC domain (include/irqkit/x86_ioapic.h): hwirq = pin, the
 * redirection entry composed from the parent level's message.
 */
#include <irqkit/msi.h>
#include <irqkit/x86.h>
#include <irqkit/x86_ioapic.h>
#include <irqkit/x86_ir.h>

#include "apic.h"
#include "core/internals.h"
#include "x86_msi.h"

#define IOREGSEL                0x00u
#define IOWIN                   0x10u
#define IOAPIC_EOI              0x40u
#define REG_VER                 0x01u
#define REG_RTE(n)              (0x10u + 2u * (n))
#define  VER_VERSION(v)          ((v) & 0xFFu)
#define  VER_MAX_REDIR(v)        (((v) >> 16) & 0xFFu)

#define RTE_DM_LOGICAL          IK_BIT(11)
#define RTE_POLARITY_LOW        IK_BIT(13)
#define RTE_LEVEL               IK_BIT(15)
#define RTE_MASK                IK_BIT(16)
#define RTE_LO_INDEX15          IK_BIT(11)
#define RTE_HI_REMAP            IK_BIT(16)      /* bit 48 */
#define RTE_HI_INDEX_SHIFT      17

#define MSI_ADDR_FORMAT         IK_BIT(4)       /* remappable */
#define MSI_ADDR_SHV            IK_BIT(3)
#define MSI_ADDR_DM_LOGICAL     IK_BIT(2)

struct ik_x86_ioapic {
	struct ik_device *dev;
	struct ik_irq_domain *domain;
	uint64_t base;
	unsigned int nr_pins;
	ik_spinlock_t lock;             /* IOREGSEL/IOWIN pairs, pin[].lo/hi */
	char name[IK_DEVICE_NAME_MAX];
	char dname[IK_DEVICE_NAME_MAX + 12];
};

struct ioapic_pin {
	struct ik_x86_ioapic *io;
	unsigned int pin;
	bool level;
	bool active_low;
	uint32_t lo, hi;                /* the entry as last written */
};

static void reg_write_locked(struct ik_x86_ioapic *io, uint32_t reg, uint32_t v)
{
	ik_os_mmio_write32(io->base + IOREGSEL, reg);
	ik_os_mmio_write32(io->base + IOWIN, v);
}

static uint32_t reg_read(struct ik_x86_ioapic *io, uint32_t reg)
{
	ik_irqflags_t flags = ik_os_spin_lock_irqsave(&io->lock);
	uint32_t v;

	ik_os_mmio_write32(io->base + IOREGSEL, reg);
	v = ik_os_mmio_read32(io->base + IOWIN);
	ik_os_spin_unlock_irqrestore(&io->lock, flags);
	return v;
}

/*
 * Write the entry.  A change of target goes high dword (destination) with
 * the entry masked, then the low dword (vector and the final mask state):
 * the entry never sends a mix of old and new.
 */
static void rte_write(struct ioapic_pin *p, uint32_t lo, uint32_t hi)
{
	struct ik_x86_ioapic *io = p->io;
	ik_irqflags_t flags = ik_os_spin_lock_irqsave(&io->lock);

	if (hi != p->hi) {
		if (!(p->lo & RTE_MASK))
			reg_write_locked(io, REG_RTE(p->pin), p->lo | RTE_MASK);
		reg_write_locked(io, REG_RTE(p->pin) + 1, hi);
	}
	reg_write_locked(io, REG_RTE(p->pin), lo);
	p->lo = lo;
	p->hi = hi;
	ik_os_spin_unlock_irqrestore(&io->lock, flags);
}

/* The entry for the parent level's message, keeping the mask state. */
static void rte_compose(struct ik_irq_data *d, uint32_t *lo, uint32_t *hi)
{
	struct ioapic_pin *p = d->chip_data;
	struct ik_msi_msg msg = { 0, 0, 0 };
	uint32_t mode = (p->level ? RTE_LEVEL : 0) | (p->active_low ? RTE_POLARITY_LOW : 0) |
			(p->lo & RTE_MASK);

	ik_irq_chip_compose_msi_msg(d->parent_data, &msg);
	if (msg.address_lo & MSI_ADDR_FORMAT) {
		unsigned int index = ((msg.address_lo >> 5) & 0x7FFFu) |
				     ((msg.address_lo >> 2) & 1u) << 15;

		if (msg.address_lo & MSI_ADDR_SHV)
			index += msg.data & 0xFFFFu;
		/* The vector field holds the pin: the directed EOI names it. */
		*hi = RTE_HI_REMAP | (index & 0x7FFFu) << RTE_HI_INDEX_SHIFT;
		*lo = mode | (p->pin & 0xFFu) | ((index >> 15) & 1u ? RTE_LO_INDEX15 : 0);
	} else {
		*hi = ((msg.address_lo >> 12) & 0xFFu) << 24;
		*lo = mode | (msg.data & 0x7FFu) |
		      (msg.address_lo & MSI_ADDR_DM_LOGICAL ? RTE_DM_LOGICAL : 0);
	}
}

/* ---- Chips ---------------------------------------------------------------------- */

static void ioapic_mask(struct ik_irq_data *d)
{
	struct ioapic_pin *p = d->chip_data;

	rte_write(p, p->lo | RTE_MASK, p->hi);
}

static void ioapic_unmask(struct ik_irq_data *d)
{
	struct ioapic_pin *p = d->chip_data;

	rte_write(p, p->lo & ~(uint32_t)RTE_MASK, p->hi);
}

/* Local APIC EOI (through the parents: move completion), then the directed EOI. */
static void ioapic_eoi_level(struct ik_irq_data *d)
{
	struct ioapic_pin *p = d->chip_data;
	struct ik_x86_ioapic *io = p->io;

	ik_irq_chip_ack_parent(d);
	ik_os_mmio_write32(io->base + IOAPIC_EOI, IK_READ_ONCE(p->lo) & 0xFFu);
}

/* Low dword (vector), then high dword (destination), the entry left as it is masked or not. */
static void rte_write_in_place(struct ioapic_pin *p, uint32_t lo, uint32_t hi)
{
	struct ik_x86_ioapic *io = p->io;
	ik_irqflags_t flags = ik_os_spin_lock_irqsave(&io->lock);

	lo = (lo & ~(uint32_t)RTE_MASK) | (p->lo & RTE_MASK);
	if (lo != p->lo)
		reg_write_locked(io, REG_RTE(p->pin), lo);
	if (hi != p->hi)
		reg_write_locked(io, REG_RTE(p->pin) + 1, hi);
	p->lo = lo;
	p->hi = hi;
	ik_os_spin_unlock_irqrestore(&io->lock, flags);
}

/* Would the vector domain move for @mask? (As x86_msi.c asks it.) */
static bool vector_would_move(unsigned int cpu, unsigned int vector, const ik_cpumask_t *mask)
{
	return vector == IK_X86_SHUTDOWN_VECTOR || !ik_cpu_is_online(cpu) ||
	       !ik_cpumask_test_cpu(cpu, mask);
}

/*
 * An edge entry directly below the vector domain cannot be masked around
 * the rewrite (a masked edge is lost), and the destination and the vector
 * live in different dwords.  So it moves like a non-maskable MSI store
 * (x86_msi.c): on the CPU it targets, new vector first (a message sent
 * meanwhile lands on this CPU, at the old vector, still routed, or at the
 * new one, whose slot here is marked), then the new destination, then an
 * edge caught at the intermediate target (pending in this CPU's IRR) is
 * retriggered on the new one.  Asked from another CPU it answers -IK_EBUSY
 * before changing anything and the move runs from the next interrupt's ack.
 */
static int ioapic_set_affinity_edge(struct ik_irq_data *d, const ik_cpumask_t *mask, bool force)
{
	struct ik_irq_data *vd = d->parent_data;
	unsigned int old_cpu, old_vector, new_cpu, new_vector, here = ik_os_cpu_id();
	bool started = ik_irqd_test(d, IK_IRQD_STARTED);
	uint32_t lo, hi;
	int ret;

	x86_vector_get_target(vd, &old_cpu, &old_vector);
	if (started && old_vector != IK_X86_SHUTDOWN_VECTOR && here != old_cpu &&
	    vector_would_move(old_cpu, old_vector, mask))
		return -IK_EBUSY;
	ret = ik_irq_chip_set_affinity_parent(d, mask, force);
	if (ret != IK_IRQ_SET_MASK_OK && ret != IK_IRQ_SET_MASK_OK_NOCOPY)
		return ret;
	x86_vector_get_target(vd, &new_cpu, &new_vector);
	rte_compose(d, &lo, &hi);
	if (started && old_vector != IK_X86_SHUTDOWN_VECTOR && old_vector != new_vector &&
	    old_cpu != new_cpu && !IK_WARN_ON(here != old_cpu))
		x86_vector_mark_stray_slot(old_cpu, new_vector);
	else
		started = false;        /* one field changes, or nothing to lose */
	rte_write_in_place(d->chip_data, lo, hi);
	if (started && apic_irr_pending(new_vector))
		ik_irq_chip_retrigger_hierarchy(d);
	return ret;
}

static int ioapic_set_affinity(struct ik_irq_data *d, const ik_cpumask_t *mask, bool force)
{
	struct ioapic_pin *p = d->chip_data;
	uint32_t lo, hi;
	int ret;

	if (!p->level && ik_irqd_test(d, IK_IRQD_ACTIVATED) &&
	    d->parent_data->domain == ik_x86_vector_domain())
		return ioapic_set_affinity_edge(d, mask, force);
	ret = ik_irq_chip_set_affinity_parent(d, mask, force);

	if (ret < 0 || ret == IK_IRQ_SET_MASK_OK_DONE)
		return ret;
	if (!ik_irqd_test(d, IK_IRQD_ACTIVATED))
		return ret;
	rte_compose(d, &lo, &hi);
	rte_write(d->chip_data, lo, hi);
	return ret;
}

static int ioapic_get_state(struct ik_irq_data *d, unsigned int which, bool *state)
{
	struct ioapic_pin *p = d->chip_data;

	if (which != IK_IRQCHIP_STATE_MASKED)
		return -IK_EINVAL;
	*state = (reg_read(p->io, REG_RTE(p->pin)) & RTE_MASK) != 0;
	return 0;
}

static const struct ik_irq_chip ioapic_edge_chip = {
	.name = "IO-APIC-edge",
	.irq_mask = ioapic_mask,
	.irq_unmask = ioapic_unmask,
	.irq_ack = ik_irq_chip_ack_parent,
	.irq_set_affinity = ioapic_set_affinity,
	.irq_retrigger = ik_irq_chip_retrigger_hierarchy,
	.irq_get_irqchip_state = ioapic_get_state,
	.flags = IK_IRQCHIP_AFFINITY_PRE_STARTUP,
};

static const struct ik_irq_chip ioapic_level_chip = {
	.name = "IO-APIC-fasteoi",
	.irq_mask = ioapic_mask,
	.irq_unmask = ioapic_unmask,
	.irq_eoi = ioapic_eoi_level,
	.irq_set_affinity = ioapic_set_affinity,
	.irq_retrigger = ik_irq_chip_retrigger_hierarchy,
	.irq_get_irqchip_state = ioapic_get_state,
	.flags = IK_IRQCHIP_AFFINITY_PRE_STARTUP,
};

/* ---- Domain --------------------------------------------------------------------- */

#define ALLOC_LEVEL      IK_BIT(0)
#define ALLOC_ACTIVE_LOW IK_BIT(1)

static int ioapic_alloc(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr, void *arg)
{
	struct ik_x86_ioapic *io = ik_irq_domain_host_data(domain);
	struct ik_msi_alloc_info *ai = arg;
	struct ik_irq_data *d;
	struct ioapic_pin *p;
	int ret;

	if (nr != 1 || !ai || ai->hwirq >= io->nr_pins)
		return -IK_EINVAL;
	p = ik_os_alloc(sizeof(*p));
	if (!p)
		return -IK_ENOMEM;
	ret = ik_irq_domain_alloc_irqs_parent(domain, virq, nr, arg);
	if (ret) {
		ik_os_free(p);
		return ret;
	}
	p->io = io;
	p->pin = (unsigned int)ai->hwirq;
	p->level = ai->scratch[0] & ALLOC_LEVEL;
	p->active_low = ai->scratch[0] & ALLOC_ACTIVE_LOW;
	p->lo = RTE_MASK | (p->level ? RTE_LEVEL : 0) | (p->active_low ? RTE_POLARITY_LOW : 0);
	p->hi = 0;
	ik_irq_domain_set_info(domain, virq, p->pin, p->level ? &ioapic_level_chip :
			       &ioapic_edge_chip, p, p->level ? ik_handle_fasteoi_irq :
			       ik_handle_edge_irq, NULL);
	d = ik_irq_domain_get_irq_data(domain, virq);
	/* Entries come out of allocation masked: the first unmask is the startup. */
	ik_irqd_set(d, IK_IRQD_MASKED);
	if (p->level)
		ik_irqd_set(d, IK_IRQD_LEVEL);
	return 0;
}

static void ioapic_free(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++) {
		struct ik_irq_data *d = ik_irq_domain_get_irq_data(domain, virq + i);

		if (d && d->chip_data) {
			ik_os_free(d->chip_data);
			ik_irq_domain_reset_irq_data(d);
		}
	}
	ik_irq_domain_free_irqs_parent(domain, virq, nr);
}

static int ioapic_activate(struct ik_irq_domain *domain, struct ik_irq_data *d, bool reserve)
{
	uint32_t lo, hi;

	rte_compose(d, &lo, &hi);
	rte_write(d->chip_data, lo, hi);
	return 0;
}

static void ioapic_deactivate(struct ik_irq_domain *domain, struct ik_irq_data *d)
{
	struct ioapic_pin *p = d->chip_data;

	rte_write(p, RTE_MASK | (p->level ? RTE_LEVEL : 0) | (p->active_low ? RTE_POLARITY_LOW : 0), 0);
}

static const struct ik_irq_domain_ops ioapic_domain_ops = {
	.alloc = ioapic_alloc,
	.free = ioapic_free,
	.activate = ioapic_activate,
	.deactivate = ioapic_deactivate,
};

/* ---- Set-up ---------------------------------------------------------------------- */

static size_t str_copy(char *dst, size_t pos, size_t cap, const char *src)
{
	while (*src && pos + 1 < cap)
		dst[pos++] = *src++;
	dst[pos] = '\0';
	return pos;
}

int ik_x86_ioapic_create(const struct ik_x86_ioapic_config *cfg, struct ik_x86_ioapic **out)
{
	struct ik_irq_domain *parent = ik_x86_default_msi_parent();
	struct ik_x86_ioapic *io;
	uint32_t ver;
	size_t pos;
	int ret;

	if (!cfg || !out || !parent)
		return -IK_EINVAL;
	io = ik_os_alloc(sizeof(*io));
	if (!io)
		return -IK_ENOMEM;
	ik_os_spin_init(&io->lock);
	io->base = cfg->base ? cfg->base : IK_X86_IOAPIC_DEFAULT_BASE;
	str_copy(io->name, 0, sizeof(io->name), cfg->name ? cfg->name : "ioapic0");
	ver = reg_read(io, REG_VER);
	if (ver == 0xFFFFFFFFu || !VER_VERSION(ver)) {
		ik_err("irqkit: no I/O APIC at 0x%llx\n", (unsigned long long)io->base);
		ret = -IK_ENODEV;
		goto err_free;
	}
	if (VER_VERSION(ver) < 0x20) {
		ik_err("irqkit: %s: version 0x%x has no EOI register\n", io->name, VER_VERSION(ver));
		ret = -IK_ENOTSUPP;
		goto err_free;
	}
	io->nr_pins = VER_MAX_REDIR(ver) + 1;
	/* Whatever a previous owner left: every entry masked. */
	for (unsigned int n = 0; n < io->nr_pins; n++) {
		ik_irqflags_t flags = ik_os_spin_lock_irqsave(&io->lock);

		reg_write_locked(io, REG_RTE(n), RTE_MASK);
		reg_write_locked(io, REG_RTE(n) + 1, 0);
		ik_os_spin_unlock_irqrestore(&io->lock, flags);
	}
	ret = ik_device_create(NULL, io->name, &io->dev);
	if (ret)
		goto err_free;
	ik_device_set_requester_id(io->dev, cfg->segment, cfg->requester_id);
	pos = str_copy(io->dname, 0, sizeof(io->dname), parent == ik_x86_ir_domain() ? "IR-" : "");
	pos = str_copy(io->dname, pos, sizeof(io->dname), "IO-APIC-");
	str_copy(io->dname, pos, sizeof(io->dname), io->name);
	io->domain = ik_irq_domain_create_hierarchy(parent, IK_IRQ_DOMAIN_FLAG_MSI_ALLOC_INFO,
						    io->nr_pins, io->dname, &ioapic_domain_ops, io);
	if (!io->domain) {
		ret = -IK_ENOMEM;
		goto err_destroy;
	}
	*out = io;
	return 0;

err_destroy:
	ik_device_destroy(io->dev);
err_free:
	ik_os_free(io);
	return ret;
}

int ik_x86_ioapic_destroy(struct ik_x86_ioapic *io)
{
	int ret;

	if (!io)
		return 0;
	ret = ik_irq_domain_remove(io->domain);
	if (ret)
		return ret;
	ik_device_destroy(io->dev);
	ik_os_free(io);
	return 0;
}

struct ik_irq_domain *ik_x86_ioapic_domain(const struct ik_x86_ioapic *io)
{
	return io ? io->domain : NULL;
}

struct ik_device *ik_x86_ioapic_device(const struct ik_x86_ioapic *io)
{
	return io ? io->dev : NULL;
}

unsigned int ik_x86_ioapic_nr_pins(const struct ik_x86_ioapic *io)
{
	return io ? io->nr_pins : 0;
}

int ik_x86_ioapic_alloc_irq(struct ik_x86_ioapic *io, unsigned int pin, unsigned int type,
			    bool active_low)
{
	struct ik_msi_alloc_info ai;

	if (!io || pin >= io->nr_pins)
		return -IK_ERANGE;
	if (type != IK_IRQ_TYPE_EDGE_RISING && type != IK_IRQ_TYPE_LEVEL_HIGH)
		return -IK_EINVAL;
	if (ik_irq_domain_find_mapping(io->domain, pin) >= 0)
		return -IK_EBUSY;
	ik_memset(&ai, 0, sizeof(ai));
	ai.dev = io->dev;
	ai.hwirq = pin;
	ai.scratch[0] = (type == IK_IRQ_TYPE_LEVEL_HIGH ? ALLOC_LEVEL : 0) |
			(active_low ? ALLOC_ACTIVE_LOW : 0);
	return ik_irq_domain_alloc_irqs(io->domain, 1, NULL, &ai);
}

int ik_x86_ioapic_free_irq(struct ik_x86_ioapic *io, unsigned int pin)
{
	int irq;

	if (!io || pin >= io->nr_pins)
		return -IK_ENOENT;
	irq = ik_irq_domain_find_mapping(io->domain, pin);
	if (irq < 0)
		return -IK_ENOENT;
	return ik_irq_domain_free_irqs((unsigned int)irq, 1);
}

uint64_t ik_x86_ioapic_rte(struct ik_x86_ioapic *io, unsigned int pin)
{
	struct ik_irq_data *d;
	struct ioapic_pin *p;
	int irq;

	if (!io || pin >= io->nr_pins)
		return 0;
	irq = ik_irq_domain_find_mapping(io->domain, pin);
	d = irq < 0 ? NULL : ik_irq_domain_get_irq_data(io->domain, (unsigned int)irq);
	if (!d || !d->chip_data)
		return (uint64_t)RTE_MASK;
	p = d->chip_data;
	return (uint64_t)p->hi << 32 | p->lo;
}
