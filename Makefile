.PHONY: install start demo test bench build typecheck

install:
	npm install

start:
	npm start

demo:
	npm run demo

test:
	npm test

bench:
	npm run bench

build:
	npm run build

typecheck:
	npm run typecheck
