# -*- coding: latin-1 -*-
X = "é"
