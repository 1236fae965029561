"""``python -m webshop_server``: serve the WebShop with waitress (or Flask's development server with ``--dev``)."""

from __future__ import annotations

import argparse
import logging
import time


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m webshop_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--num-products", type=int, default=1000, help="size of the generated catalog")
    parser.add_argument("--seed", type=int, default=0, help="catalog seed")
    parser.add_argument("--catalog-dir", default=None, help="serve upstream's data files from this folder")
    parser.add_argument("--search-backend", choices=("bm25s", "fts5"), default="bm25s")
    parser.add_argument("--show-attrs", action="store_true", help="show the hidden Attributes sub-page")
    parser.add_argument("--threads", type=int, default=4, help="waitress worker threads")
    parser.add_argument("--page-cache-mb", type=float, default=64, help="most MiB of rendered pages kept (0: none)")
    parser.add_argument("--dev", action="store_true", help="Flask's development server (debugging only)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    from webshop_server.app import create_app

    start = time.perf_counter()
    app = create_app(
        {
            "NUM_PRODUCTS": args.num_products,
            "CATALOG_SEED": args.seed,
            "CATALOG_DIR": args.catalog_dir,
            "SEARCH_BACKEND": args.search_backend,
            "SHOW_ATTRS": args.show_attrs,
            "PAGE_CACHE": 4096 if args.page_cache_mb > 0 else 0,
            "PAGE_CACHE_BYTES": int(args.page_cache_mb * 2**20),
        }
    )
    catalog = app.extensions["webshop"].catalog
    logging.info("%r ready in %.1f s: http://%s:%d/fixed_0", catalog, time.perf_counter() - start, args.host, args.port)
    if args.dev:
        app.run(host=args.host, port=args.port, debug=False, threaded=True)
    else:
        import waitress

        waitress.serve(app, host=args.host, port=args.port, threads=args.threads, ident="webshop")


if __name__ == "__main__":
    main()
