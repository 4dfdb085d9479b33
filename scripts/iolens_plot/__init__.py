"""The plots of iolens results files, drawn by scripts/plot.py.

  data.py      results files, the figures read from them, the model map's
               regions; no matplotlib
  plotter.py   the Plotter (figures, colours, captions, files) and the
               formats and legends the plots share
  bars.py      throughput, latency, syscalls, CPU and switches, scaling
  timeline.py  the traced operations
  modelmap.py  the model map and its label placement
  jobs.py      the plots drawn in worker processes
  store.py     two runs of the results database side by side (--runs)

matplotlib is imported only once a Plotter is made, so data.py (and the
package) import with a python3 that lacks it.
"""
