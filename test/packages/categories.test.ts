import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempDb, testDialects } from '../support/db.js';
import { defaultTestConfig, seedCatalog } from '../support/seed.js';
import { InputError } from '../../src/errors.js';
import { createCategory, deleteCategory, listCategoryViews, renameCategory } from '../../src/packages/categories.js';
import { createPackage, getPackage } from '../../src/packages/packages.js';

function refused(field: string, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof InputError, String(err));
    assert.equal(err.field, field);
    assert.match(err.message, pattern);
    return true;
  };
}

for (const dialect of testDialects()) {
  test(`[${dialect}] categories: create (subcategories under a parent), list with usage, rename, delete refused while in use and naming the packages`, async (t) => {
    const handle = await tempDb(t, dialect);
    await seedCatalog(handle);
    const deps = { handle };
    const ai = await createCategory(deps, { name: '  AI   Models ' });
    assert.deepEqual([ai.id, ai.name, ai.parentId], [1, 'AI Models', null]);
    const claude = await createCategory(deps, { name: 'Claude', parentId: ai.id });
    assert.equal(claude.parentId, ai.id);
    await assert.rejects(createCategory(deps, { name: 'AI Models' }), refused('name', /^name: category 1 "AI Models" already exists; use its id, or pick another name$/));
    await assert.rejects(createCategory(deps, { name: '' }), refused('name', /1 to 100 characters/));
    await assert.rejects(createCategory(deps, { name: 'x'.repeat(101) }), refused('name', /1 to 100 characters/));
    await assert.rejects(createCategory(deps, { name: 'Orphan', parentId: 99 }), refused('parent', /^parent: no category with id 99; see arb category list$/));
    assert.ok(await createCategory(deps, { name: 'Claude' }), 'the same name at another level is a different category');

    const pkg = (
      await createPackage({ handle, config: defaultTestConfig() }, { model: 'gpt-4', tokens: 100_000, description: 'GPT-4 Access - 100k tokens', categoryId: ai.id, subcategoryId: claude.id })
    ).package;
    const views = await listCategoryViews(handle);
    assert.deepEqual(
      views.map((v) => [v.id, v.name, v.parentId, v.parentName, v.packageCount, v.subcategoryCount]),
      [
        [1, 'AI Models', null, null, 1, 1],
        [2, 'Claude', 1, 'AI Models', 1, 0],
        [3, 'Claude', null, null, 0, 0],
      ],
    );

    const renamed = await renameCategory(deps, claude.id, 'Anthropic');
    assert.deepEqual([renamed.previousName, renamed.category.name], ['Claude', 'Anthropic']);
    await assert.rejects(renameCategory(deps, 3, 'AI Models'), refused('name', /category 1 "AI Models" already has that name/));
    await assert.rejects(renameCategory(deps, 42, 'x'), refused('id', /no category with id 42/));

    await assert.rejects(deleteCategory(deps, ai.id), refused('id', /^id: category 1 "AI Models" has 1 subcategory \(2 "Anthropic"\); delete or move them first$/));
    await assert.rejects(
      deleteCategory(deps, claude.id),
      refused(
        'id',
        new RegExp(
          `^id: category 2 "Anthropic" is used by 1 package\\(s\\): #${pkg.id} openai/gpt-4 "GPT-4 Access - 100k tokens"; move them with --move-to <category id>, or rename the category instead$`,
        ),
      ),
    );
    assert.equal((await listCategoryViews(handle)).length, 3, 'refusals change nothing');
    await assert.rejects(deleteCategory(deps, claude.id, { moveTo: claude.id }), refused('move_to', /the category being deleted/));
    await assert.rejects(deleteCategory(deps, claude.id, { moveTo: 77 }), refused('move_to', /no category with id 77/));

    const moved = await deleteCategory(deps, claude.id, { moveTo: 3 });
    assert.deepEqual(moved.movedPackages, [pkg.id]);
    assert.equal((await getPackage(handle, pkg.id)).subcategoryId, 3);
    await deleteCategory(deps, 3, { moveTo: ai.id });
    assert.deepEqual(
      (await listCategoryViews(handle)).map((v) => [v.id, v.packageCount]),
      [[1, 1]],
    );
  });
}
