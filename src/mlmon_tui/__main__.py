from mlmon_tui.app.cli import main

raise SystemExit(main())
