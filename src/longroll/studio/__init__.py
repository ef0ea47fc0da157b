"""``longroll studio``: a live web page that streams a long video as it is made (see ``app``)."""
