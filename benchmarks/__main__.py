import sys

if "--readme" in sys.argv[1:]:  # only rewrite README.md's benchmark table from benchmarks/results/latest.json
    from benchmarks.readme import main
else:
    from benchmarks.runner import main

sys.exit(main())
