"""ABR policies behind one interface (:class:`~models.abr.policies.base.Policy`)."""
