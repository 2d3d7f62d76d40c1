"""ABR policies behind one interface (:class:`~streamlab.models.abr.policies.base.Policy`)."""
