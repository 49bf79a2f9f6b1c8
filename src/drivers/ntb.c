// SPDX-License-Identifier: BSD-2-Clause
/*
 * Driver for the switchtec-like NTB function and its port
 * (include/irqkit/drivers/ntb.h).
 *
 * Two drivers: the function's, which owns the PCI side (BARs, MSI-X, the
 * event and dma_rpc vectors), and the port's, which owns the NTB side
 * (message and doorbell vectors, the inbound MSI window, the publish slots
 * and the memory-window interrupt domain).  Each keeps its state
 * device-managed in the order that lets unbind undo it backwards.
 */
#include <irqkit/drivers/ntb.h>
#include <irqkit/irqchip.h>
#include <irqkit/pci.h>

#include "core/internals.h"

/* BAR0 registers. */
#define REG_CAP            0x0000u
#define  CAP_PUBLISH(c)     ((c) & 0xFFu)
#define REG_LINK_STATUS    0x0004u
#define  LINK_UP            IK_BIT(0)
#define REG_EVENT_STATUS   0x0008u
#define REG_EVENT_MASK     0x000Cu
#define REG_DMA_RPC_STATUS 0x0010u
#define REG_WIN_BASE_LO    0x0020u
#define  WIN_ENABLE         IK_BIT(0)
#define REG_WIN_BASE_HI    0x0024u
#define REG_WIN_SIZE       0x0028u
#define REG_PROXY_RID      0x002Cu
#define  PROXY_VALID        IK_BIT(31)
#define REG_DB_STATUS      0x0040u
#define REG_DB_MASK        0x0044u
#define REG_DB_PEER        0x0048u
#define REG_MSG_IN(i)      (0x0050u + 4u * (i))
#define REG_MSG_STATUS     0x0060u
#define REG_MSG_MASK       0x0064u
#define REG_MSG_OUT(i)     (0x0070u + 4u * (i))
#define REG_PUBLISH(i)     (0x1000u + 16u * (i))
#define  PUB_OFFSET         0x0u
#define  PUB_DATA           0x4u
#define  PUB_CTRL           0x8u
#define  PUB_VALID          IK_BIT(0)
#define BAR0_MIN_LEN       0x2000u

struct ntb_fn {
	struct ik_device *pdev;
	uint64_t bar0;
	unsigned int nr_publish;
	ik_mutex_t lock;                /* port */
	struct ik_device *port;
	/* Counters: IK_ATOMIC_INC / IK_READ_ONCE. */
	uint64_t link_events, dma_rpcs, messages, doorbells;
	uint64_t republished, invalidated, unpublishable;
	uint32_t doorbell_bits;         /* __atomic or */
	uint32_t last_msg[IK_NTB_NR_MSGS];
	bool link_up;
};

/* What the peer currently reads in a publish slot (under the interrupt's descriptor lock). */
struct ntb_pub {
	uint32_t offset;
	uint32_t data;
	bool valid;
};

struct ntbm_irq {
	struct ntb_port *port;
	struct ik_msi_map map;
	void *dev_id;
	struct ntbm_irq *next;
};

struct ntb_port {
	struct ntb_fn *fn;
	struct ik_device *dev;
	ik_mutex_t lock;                /* ntbm list */
	struct ntbm_irq *ntbm;
	struct ntb_pub pub[IK_NTB_MAX_PUBLISH];
};

static const struct ik_driver ntb_port_driver;

static uint32_t rd(uint64_t bar0, uint32_t reg)
{
	return ik_os_mmio_read32(bar0 + reg);
}

static void wr(uint64_t bar0, uint32_t reg, uint32_t value)
{
	ik_os_mmio_write32(bar0 + reg, value);
}

static struct ntb_fn *fn_of(struct ik_device *pdev)
{
	if (!pdev || ik_device_driver(pdev) != &ik_ntb_pci_driver)
		return NULL;
	return ik_device_get_drvdata(pdev);
}

static struct ntb_port *port_of(struct ik_device *dev)
{
	if (!dev || ik_device_driver(dev) != &ntb_port_driver)
		return NULL;
	return ik_device_get_drvdata(dev);
}

/* ---- The chip: publish to the peer ------------------------------------------------ */

/*
 * Atomic, descriptor lock held.  The peer reads OFFSET and DATA together
 * when it triggers, so it must never find a pair that is half old, half
 * new.  One changed word is one register write; two are written with the
 * slot invalid (a trigger then writes nothing and the peer retries).  The
 * zero message of deactivation lies outside the window: it unpublishes.
 */
static void ntb_publish(struct ik_irq_data *d, const struct ik_msi_msg *msg)
{
	struct ntb_port *port = ik_msi_get_domain_info(d->domain)->data;
	struct ntb_fn *fn = port->fn;
	struct ntb_pub *p = &port->pub[d->hwirq];
	uint64_t slot = fn->bar0 + REG_PUBLISH(d->hwirq);
	uint64_t addr = (uint64_t)msg->address_hi << 32 | msg->address_lo;
	uint32_t offset;

	if (addr < IK_NTB_MSI_WINDOW_BASE || (addr & 3) ||
	    addr - IK_NTB_MSI_WINDOW_BASE > IK_NTB_MSI_WINDOW_SIZE - 4) {
		if (addr || msg->data) {
			IK_ATOMIC_INC(fn->unpublishable);
			ik_err("irqkit: %s: irq %u: message address 0x%llx is outside the NTB "
			       "window: not published\n", ik_device_name(port->dev), d->irq,
			       (unsigned long long)addr);
		}
		if (p->valid) {
			wr(slot, PUB_CTRL, 0);
			(void)rd(slot, PUB_CTRL);
			p->valid = false;
		}
		return;
	}
	offset = (uint32_t)(addr - IK_NTB_MSI_WINDOW_BASE);
	if (p->valid && p->offset == offset && p->data == msg->data)
		return;
	if (p->valid && (p->offset == offset || p->data == msg->data)) {
		if (p->offset != offset)
			wr(slot, PUB_OFFSET, offset);
		else
			wr(slot, PUB_DATA, msg->data);
		IK_ATOMIC_INC(fn->republished);
	} else {
		if (p->valid) {
			wr(slot, PUB_CTRL, 0);
			IK_ATOMIC_INC(fn->invalidated);
		}
		wr(slot, PUB_OFFSET, offset);
		wr(slot, PUB_DATA, msg->data);
		wr(slot, PUB_CTRL, PUB_VALID);
	}
	(void)rd(slot, PUB_CTRL);
	p->offset = offset;
	p->data = msg->data;
	p->valid = true;
}

/*
 * No masking is declared: a peer cannot be held back.  Acknowledge,
 * retrigger and affinity come from the MSI parent.
 */
static const struct ik_msi_domain_template ntb_template = {
	.name = "NTB",
	.chip = {
		.name = "NTB",
		.irq_write_msi_msg = ntb_publish,
		.flags = IK_IRQCHIP_ONESHOT_SAFE,
	},
	.info = {
		.flags = IK_MSI_FLAG_ALLOC_SIMPLE_DESCS | IK_MSI_FLAG_FREE_DESCS,
		.bus_token = IK_MSI_BUS_NTB,
	},
};

/* ---- Memory-window interrupts -------------------------------------------------- */

struct ik_msi_map ik_ntb_msi_alloc_irq(struct ik_device *dev,
				       const struct ik_irq_affinity_desc *affinity)
{
	struct ik_msi_map map = { .index = -IK_EINVAL, .virq = 0 };

	if (!port_of(dev))
		return map;
	return ik_msi_domain_alloc_irq_at(dev, IK_MSI_DEFAULT_DOMAIN, IK_MSI_ANY_INDEX, affinity, 0);
}

int ik_ntb_msi_free_irq(struct ik_device *dev, struct ik_msi_map map)
{
	struct ik_msi_desc *desc;
	int ret;

	if (!port_of(dev) || map.index < 0 || !map.virq)
		return -IK_EINVAL;
	ik_msi_lock_descs(dev);
	desc = ik_msi_find_desc(dev, IK_MSI_DEFAULT_DOMAIN, (uint32_t)map.index);
	if (!desc || !desc->irq) {
		ik_warn("irqkit: %s: NTB slot %d freed twice or never allocated\n",
			ik_device_name(dev), map.index);
		ret = -IK_ENOENT;
	} else if (desc->irq != map.virq) {
		ret = -IK_EINVAL;
	} else {
		ret = ik_msi_domain_free_irqs_range_locked(dev, IK_MSI_DEFAULT_DOMAIN,
							   (uint32_t)map.index, (uint32_t)map.index);
		if (ret > 0)
			ret = 0;
	}
	ik_msi_unlock_descs(dev);
	return ret;
}

static void ntbm_release(void *data)
{
	struct ntbm_irq *rec = data;
	struct ntb_port *port = rec->port;
	struct ntbm_irq **pp;

	ik_free_irq(rec->map.virq, rec->dev_id);
	ik_ntb_msi_free_irq(port->dev, rec->map);
	ik_os_mutex_lock(&port->lock);
	for (pp = &port->ntbm; *pp; pp = &(*pp)->next) {
		if (*pp == rec) {
			*pp = rec->next;
			break;
		}
	}
	ik_os_mutex_unlock(&port->lock);
	ik_os_free(rec);
}

int ik_ntbm_msi_request_irq(struct ik_device *dev, ik_irq_handler_t handler, const char *name,
			    void *dev_id, const struct ik_irq_affinity_desc *affinity,
			    struct ik_ntb_msi_desc *out)
{
	struct ntb_port *port = port_of(dev);
	struct ntbm_irq *rec;
	int ret;

	if (!port || !handler || !out)
		return -IK_EINVAL;
	rec = ik_os_alloc(sizeof(*rec));
	if (!rec)
		return -IK_ENOMEM;
	rec->port = port;
	rec->dev_id = dev_id;
	rec->map = ik_ntb_msi_alloc_irq(dev, affinity);
	if (rec->map.index < 0) {
		ret = rec->map.index;
		goto err_free_rec;
	}
	ret = ik_request_irq(rec->map.virq, handler, 0, name, dev_id);
	if (ret)
		goto err_free_irq;
	ik_os_mutex_lock(&port->lock);
	rec->next = port->ntbm;
	port->ntbm = rec;
	ik_os_mutex_unlock(&port->lock);
	/* On failure the action runs at once and undoes everything above. */
	ret = ik_devm_add_action(dev, ntbm_release, rec);
	if (ret) {
		ntbm_release(rec);
		return ret;
	}
	out->irq = rec->map.virq;
	out->slot = (unsigned int)rec->map.index;
	return 0;

err_free_irq:
	ik_ntb_msi_free_irq(dev, rec->map);
err_free_rec:
	ik_os_free(rec);
	return ret;
}

int ik_ntbm_msi_free_irq(struct ik_device *dev, unsigned int irq, void *dev_id)
{
	struct ntb_port *port = port_of(dev);
	struct ntbm_irq *rec;

	if (!port)
		return -IK_ENOENT;
	ik_os_mutex_lock(&port->lock);
	for (rec = port->ntbm; rec; rec = rec->next)
		if (rec->map.virq == irq && rec->dev_id == dev_id)
			break;
	ik_os_mutex_unlock(&port->lock);
	if (!rec)
		return -IK_ENOENT;
	return ik_devm_release_action(dev, ntbm_release, rec);
}

/* ---- The port's handlers ----------------------------------------------------------- */

/* Status first, then the registers: a message arriving after the clear raises again. */
static ik_irqreturn_t ntb_message_irq(unsigned int irq, void *dev_id)
{
	struct ntb_fn *fn = ((struct ntb_port *)dev_id)->fn;
	uint32_t status = rd(fn->bar0, REG_MSG_STATUS) & (IK_BIT(IK_NTB_NR_MSGS) - 1);

	if (!status)
		return IK_IRQ_NONE;
	wr(fn->bar0, REG_MSG_STATUS, status);
	for (unsigned int i = 0; i < IK_NTB_NR_MSGS; i++) {
		if (!(status & IK_BIT(i)))
			continue;
		IK_WRITE_ONCE(fn->last_msg[i], rd(fn->bar0, REG_MSG_IN(i)));
		IK_ATOMIC_INC(fn->messages);
	}
	return IK_IRQ_HANDLED;
}

static ik_irqreturn_t ntb_doorbell_irq(unsigned int irq, void *dev_id)
{
	struct ntb_fn *fn = ((struct ntb_port *)dev_id)->fn;
	uint32_t bits = rd(fn->bar0, REG_DB_STATUS);

	if (!bits)
		return IK_IRQ_NONE;
	wr(fn->bar0, REG_DB_STATUS, bits);
	__atomic_or_fetch(&fn->doorbell_bits, bits, __ATOMIC_RELAXED);
	IK_ATOMIC_INC(fn->doorbells);
	return IK_IRQ_HANDLED;
}

/* ---- The port's driver --------------------------------------------------------------- */

struct port_irq {
	unsigned int irq;
	void *dev_id;
};

static void port_free_irq(void *data)
{
	struct port_irq *pi = data;

	ik_free_irq(pi->irq, pi->dev_id);
	ik_os_free(pi);
}

/* A handler on one of the function's vectors, freed when the port unbinds. */
static int port_request(struct ik_device *dev, struct ntb_port *port, unsigned int vec,
			ik_irq_handler_t handler, const char *name)
{
	struct port_irq *pi;
	int irq, ret;

	irq = ik_pci_irq_vector(port->fn->pdev, vec);
	if (irq < 0)
		return irq;
	pi = ik_os_alloc(sizeof(*pi));
	if (!pi)
		return -IK_ENOMEM;
	pi->irq = (unsigned int)irq;
	pi->dev_id = port;
	ret = ik_request_irq(pi->irq, handler, 0, name, port);
	if (ret) {
		ik_os_free(pi);
		return ret;
	}
	ret = ik_devm_add_action(dev, port_free_irq, pi);
	if (ret)
		port_free_irq(pi);
	return ret;
}

static void port_state_free(void *data)
{
	struct ntb_port *port = data;
	struct ntb_fn *fn = port->fn;

	ik_os_mutex_lock(&fn->lock);
	if (fn->port == port->dev)
		fn->port = NULL;
	ik_os_mutex_unlock(&fn->lock);
	ik_os_mutex_destroy(&port->lock);
	ik_os_free(port);
}

/* Every slot unpublished before the window opens, and again after it closes. */
static void window_close(void *data)
{
	struct ntb_port *port = data;
	struct ntb_fn *fn = port->fn;

	if (ik_pci_is_disconnected(fn->pdev))
		return;
	wr(fn->bar0, REG_WIN_BASE_LO, 0);
	for (unsigned int i = 0; i < fn->nr_publish; i++)
		wr(fn->bar0, REG_PUBLISH(i) + PUB_CTRL, 0);
}

static void port_domain_remove(void *data)
{
	ik_msi_remove_device_domain(data, IK_MSI_DEFAULT_DOMAIN);
}

static int ntb_port_probe(struct ik_device *dev)
{
	struct ntb_fn *fn = ik_device_get_drvdata(dev);
	struct ntb_port *port;
	uint32_t proxy;
	int ret;

	ik_device_set_drvdata(dev, NULL);
	if (!fn)
		return -IK_EINVAL;
	port = ik_os_alloc(sizeof(*port));
	if (!port)
		return -IK_ENOMEM;
	port->fn = fn;
	port->dev = dev;
	ik_os_mutex_init(&port->lock);
	ik_os_mutex_lock(&fn->lock);
	if (fn->port) {
		ik_os_mutex_unlock(&fn->lock);
		ik_os_mutex_destroy(&port->lock);
		ik_os_free(port);
		return -IK_EBUSY;
	}
	fn->port = dev;
	ik_os_mutex_unlock(&fn->lock);
	ret = ik_devm_add_action(dev, port_state_free, port);
	if (ret) {
		port_state_free(port);
		return ret;
	}
	/* chip callbacks find the port through the domain; handlers through dev_id */
	ret = port_request(dev, port, IK_NTB_VEC_MESSAGE, ntb_message_irq, "ntb-message");
	if (ret)
		return ret;
	ret = port_request(dev, port, IK_NTB_VEC_DOORBELL, ntb_doorbell_irq, "ntb-doorbell");
	if (ret)
		return ret;

	window_close(port);
	ret = ik_devm_add_action(dev, window_close, port);
	if (ret)
		return ret;
	wr(fn->bar0, REG_WIN_SIZE, IK_NTB_MSI_WINDOW_SIZE);
	wr(fn->bar0, REG_WIN_BASE_HI, (uint32_t)(IK_NTB_MSI_WINDOW_BASE >> 32));
	wr(fn->bar0, REG_WIN_BASE_LO, (uint32_t)IK_NTB_MSI_WINDOW_BASE | WIN_ENABLE);
	wr(fn->bar0, REG_DB_MASK, 0);
	wr(fn->bar0, REG_MSG_MASK, 0);

	/* Translated writes carry the proxy id: the port's DMA alias (remapping checks it). */
	proxy = rd(fn->bar0, REG_PROXY_RID);
	if (proxy != 0xFFFFFFFFu && (proxy & PROXY_VALID)) {
		ret = ik_device_add_dma_alias(dev, (uint16_t)(proxy & 0xFFFFu));
		if (ret)
			return ret;
	}

	ret = ik_msi_create_device_domain(dev, IK_MSI_DEFAULT_DOMAIN, &ntb_template,
					  fn->nr_publish, port, NULL);
	if (ret) {
		ik_err("irqkit: %s: cannot create the NTB window domain: %s\n",
		       ik_device_name(dev), ik_strerror(ret));
		return ret;
	}
	ret = ik_devm_add_action(dev, port_domain_remove, dev);
	if (ret) {
		ik_msi_remove_device_domain(dev, IK_MSI_DEFAULT_DOMAIN);
		return ret;
	}
	ik_device_set_drvdata(dev, port);
	return 0;
}

static const struct ik_driver ntb_port_driver = {
	.name = "ntb-port",
	.probe = ntb_port_probe,
};

struct ik_device *ik_ntb_port(struct ik_device *pdev)
{
	struct ntb_fn *fn = fn_of(pdev);
	struct ik_device *port;

	if (!fn)
		return NULL;
	ik_os_mutex_lock(&fn->lock);
	port = fn->port;
	ik_os_mutex_unlock(&fn->lock);
	return port;
}

int ik_ntb_port_add(struct ik_device *pdev)
{
	struct ntb_fn *fn = fn_of(pdev);
	char name[IK_DEVICE_NAME_MAX];
	const char *f = ik_device_name(pdev);
	struct ik_device *child;
	unsigned int pos = 0;
	int ret;

	if (!fn)
		return -IK_EINVAL;
	if (ik_ntb_port(pdev))
		return -IK_EBUSY;
	/* "<function>.ntb": the ports of two functions name their domains apart. */
	while (*f && pos < IK_DEVICE_NAME_MAX - 5)
		name[pos++] = *f++;
	ik_memcpy(name + pos, ".ntb", 5);
	ret = ik_device_create(pdev, name, &child);
	if (ret)
		return ret;
	/* The probe takes the function from drvdata and replaces it with the port. */
	ik_device_set_drvdata(child, fn);
	ret = ik_device_bind(child, &ntb_port_driver);
	if (ret)
		ik_device_destroy(child);
	return ret;
}

void ik_ntb_port_remove(struct ik_device *pdev)
{
	struct ik_device *port = ik_ntb_port(pdev);

	if (port)
		ik_device_destroy(port);
}

int ik_ntb_peer_db_set(struct ik_device *dev, uint32_t bits)
{
	struct ntb_port *port = port_of(dev);

	if (!port)
		return -IK_EINVAL;
	wr(port->fn->bar0, REG_DB_PEER, bits);
	return 0;
}

int ik_ntb_peer_msg_write(struct ik_device *dev, unsigned int index, uint32_t value)
{
	struct ntb_port *port = port_of(dev);

	if (!port || index >= IK_NTB_NR_MSGS)
		return -IK_EINVAL;
	wr(port->fn->bar0, REG_MSG_OUT(index), value);
	return 0;
}

/* ---- The function's driver ---------------------------------------------------------- */

static ik_irqreturn_t ntb_event_irq(unsigned int irq, void *dev_id)
{
	struct ntb_fn *fn = dev_id;
	uint32_t status = rd(fn->bar0, REG_EVENT_STATUS);

	if (!status)
		return IK_IRQ_NONE;
	wr(fn->bar0, REG_EVENT_STATUS, status);
	IK_WRITE_ONCE(fn->link_up, (rd(fn->bar0, REG_LINK_STATUS) & LINK_UP) != 0);
	IK_ATOMIC_INC(fn->link_events);
	return IK_IRQ_HANDLED;
}

static ik_irqreturn_t ntb_dma_rpc_irq(unsigned int irq, void *dev_id)
{
	struct ntb_fn *fn = dev_id;
	uint32_t status = rd(fn->bar0, REG_DMA_RPC_STATUS);

	if (!status)
		return IK_IRQ_NONE;
	wr(fn->bar0, REG_DMA_RPC_STATUS, status);
	IK_ATOMIC_INC(fn->dma_rpcs);
	return IK_IRQ_HANDLED;
}

int ik_ntb_get_stats(struct ik_device *pdev, struct ik_ntb_stats *out)
{
	struct ntb_fn *fn = fn_of(pdev);

	if (!fn || !out)
		return -IK_EINVAL;
	out->link_events = IK_READ_ONCE(fn->link_events);
	out->dma_rpcs = IK_READ_ONCE(fn->dma_rpcs);
	out->messages = IK_READ_ONCE(fn->messages);
	out->doorbells = IK_READ_ONCE(fn->doorbells);
	out->doorbell_bits = IK_READ_ONCE(fn->doorbell_bits);
	for (unsigned int i = 0; i < IK_NTB_NR_MSGS; i++)
		out->last_msg[i] = IK_READ_ONCE(fn->last_msg[i]);
	out->link_up = IK_READ_ONCE(fn->link_up);
	out->republished = IK_READ_ONCE(fn->republished);
	out->invalidated = IK_READ_ONCE(fn->invalidated);
	out->unpublishable = IK_READ_ONCE(fn->unpublishable);
	return 0;
}

static void fn_state_free(void *data)
{
	struct ntb_fn *fn = data;

	ik_os_mutex_destroy(&fn->lock);
	ik_os_free(fn);
}

struct fn_irq {
	unsigned int irq;
	void *dev_id;
};

static void fn_free_irq(void *data)
{
	struct fn_irq *fi = data;

	ik_free_irq(fi->irq, fi->dev_id);
	ik_os_free(fi);
}

static int fn_request(struct ntb_fn *fn, unsigned int vec, ik_irq_handler_t handler,
		      const char *name)
{
	struct fn_irq *fi;
	int irq, ret;

	irq = ik_pci_irq_vector(fn->pdev, vec);
	if (irq < 0)
		return irq;
	fi = ik_os_alloc(sizeof(*fi));
	if (!fi)
		return -IK_ENOMEM;
	fi->irq = (unsigned int)irq;
	fi->dev_id = fn;
	ret = ik_request_irq(fi->irq, handler, 0, name, fn);
	if (ret) {
		ik_os_free(fi);
		return ret;
	}
	ret = ik_devm_add_action(fn->pdev, fn_free_irq, fi);
	if (ret)
		fn_free_irq(fi);
	return ret;
}

/*
 * Device-managed in this order, undone backwards at unbind: decode, the
 * state, the vectors (ik_pci_alloc_irq_vectors registers their release),
 * the handlers.  The port is a child: remove destroys it before all that.
 */
static int ntb_pci_probe(struct ik_device *pdev)
{
	struct ntb_fn *fn;
	int n, ret;

	if (!ik_dev_is_pci(pdev) || !(ik_pci_resource_flags(pdev, 0) & IK_PCI_RES_MEM) ||
	    ik_pci_resource_len(pdev, 0) < BAR0_MIN_LEN)
		return -IK_ENODEV;
	ret = ik_pcim_enable_device(pdev);
	if (ret)
		return ret;
	fn = ik_os_alloc(sizeof(*fn));
	if (!fn)
		return -IK_ENOMEM;
	ik_os_mutex_init(&fn->lock);
	fn->pdev = pdev;
	fn->bar0 = ik_pci_resource_start(pdev, 0);
	ret = ik_devm_add_action(pdev, fn_state_free, fn);
	if (ret) {
		fn_state_free(fn);
		return ret;
	}
	fn->nr_publish = IK_MIN(CAP_PUBLISH(rd(fn->bar0, REG_CAP)), IK_NTB_MAX_PUBLISH);
	if (!fn->nr_publish) {
		ik_err("irqkit: %s: NTB: no publish slots\n", ik_device_name(pdev));
		return -IK_EINVAL;
	}
	n = ik_pci_alloc_irq_vectors(pdev, IK_NTB_NR_VECTORS, IK_NTB_NR_VECTORS, IK_PCI_IRQ_MSIX,
				     NULL);
	if (n < 0)
		return n;
	ik_pci_set_master(pdev);
	ret = fn_request(fn, IK_NTB_VEC_EVENT, ntb_event_irq, "ntb-event");
	if (ret)
		return ret;
	ret = fn_request(fn, IK_NTB_VEC_DMA_RPC, ntb_dma_rpc_irq, "ntb-dma-rpc");
	if (ret)
		return ret;
	IK_WRITE_ONCE(fn->link_up, (rd(fn->bar0, REG_LINK_STATUS) & LINK_UP) != 0);
	wr(fn->bar0, REG_EVENT_STATUS, 0xFFFFFFFFu);
	wr(fn->bar0, REG_EVENT_MASK, 0);
	ik_device_set_drvdata(pdev, fn);
	ret = ik_ntb_port_add(pdev);
	if (ret)
		ik_device_set_drvdata(pdev, NULL);
	return ret;
}

static void ntb_pci_remove(struct ik_device *pdev)
{
	ik_ntb_port_remove(pdev);
}

const struct ik_driver ik_ntb_pci_driver = {
	.name = "ntb-switchtec",
	.probe = ntb_pci_probe,
	.remove = ntb_pci_remove,
};
