from django.core.paginator import Paginator
from django.utils.functional import cached_property

from members.selectors import estimated_count


class EstimatedCountPaginator(Paginator):
    """Pages over tables of millions of rows without a COUNT(*) on every page view."""

    @cached_property
    def count(self):
        return estimated_count(self.object_list)
